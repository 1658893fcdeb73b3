// Compiles Debian node-llhttp's api.c (found on the llhttp_dir include path, see binding.gyp)
// into the addon: gyp's make generator cannot name a source outside this tree.
#include <api.c>
