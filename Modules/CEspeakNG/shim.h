#ifndef YTAUTO_CESPEAKNG_SHIM_H
#define YTAUTO_CESPEAKNG_SHIM_H
// The types and constants of libespeak-ng's API (libespeak-ng-dev). Nothing is linked: the library
// itself (libespeak-ng.so.1, from the espeak-ng package) is opened with dlopen when first used, so a
// host without it still starts and gets a clear error only where narration needs it.
#include <espeak-ng/speak_lib.h>
#endif
