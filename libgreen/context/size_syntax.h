/* context/size_syntax.h: the one syntax of a stack size, read by greenrun (C, tools/) and by the
 * runtime (GREEN_STACK_SIZE, StackPool::parse_size): digits, then optionally K, M or G (1024-based),
 * an 'i' after it and a 'B' ("64K", "1MiB", "65536B"). Digits first, so no sign or blank slips
 * through; a value too large for size_t saturates to SIZE_MAX (it is out of any range).
 * Returns 1 with *bytes set; 0 if text has no leading digit or ends in something else, with *rest
 * at the first character that is not part of a size. */
#ifndef GREEN_SIZE_SYNTAX_H
#define GREEN_SIZE_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

static inline int green_parse_size(const char* text, size_t* bytes, const char** rest) {
    const char* p = text;
    *rest = p;
    if (!p || *p < '0' || *p > '9') return 0;
    size_t v = 0;
    for (; *p >= '0' && *p <= '9'; ++p) v = v > (SIZE_MAX - 9) / 10 ? SIZE_MAX : v * 10 + (size_t)(*p - '0');
    int shift = 0;
    if (*p == 'k' || *p == 'K') shift = 10;
    else if (*p == 'm' || *p == 'M') shift = 20;
    else if (*p == 'g' || *p == 'G') shift = 30;
    if (shift) ++p;
    if (shift && *p == 'i') ++p;
    if (*p == 'B' || *p == 'b') ++p;
    *rest = p;
    if (*p) return 0;
    *bytes = v > (SIZE_MAX >> shift) ? SIZE_MAX : v << shift;
    return 1;
}

#endif
