// Compiles Debian node-llhttp's llhttp.c (found on the llhttp_dir include path, see binding.gyp)
// into the addon: gyp's make generator cannot name a source outside this tree.
#include <llhttp.c>
