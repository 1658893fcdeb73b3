// Compiles Debian node-llhttp's http.c (found on the llhttp_dir include path, see binding.gyp)
// into the addon: gyp's make generator cannot name a source outside this tree.
#include <http.c>
