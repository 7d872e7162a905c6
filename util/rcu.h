/* liburcu-bp's read side as inline code (_LGPL_SOURCE) rather than library
 * calls: about 80 instructions less per access. Not in sanitizer builds:
 * liburcu-bp's reader registry places its reader structs below their declared
 * 128-byte alignment (harmless on x86), which UBSan reports from inlined code.
 * GCC says ASan with __SANITIZE_ADDRESS__, clang (before 17) only through
 * __has_feature. Include this instead of <urcu-bp.h> where the read side is hot. */
#ifndef MINIVMM_UTIL_RCU_H
#define MINIVMM_UTIL_RCU_H

#if defined(__SANITIZE_ADDRESS__)
#define MINIVMM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MINIVMM_SANITIZED 1
#endif
#endif

#ifndef MINIVMM_SANITIZED
#define _LGPL_SOURCE
#endif
#include <urcu-bp.h>

#endif
