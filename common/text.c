/* text.c: plain-text checks and visible escapes for peer strings; see text.h. */
#include "text.h"

#include <stdio.h>
#include <string.h>

size_t hpt_text_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    *cp = b;
    if (b < 0x80)
        return 1;
    size_t len;
    uint32_t v;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        v = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        v = b & 0x0Fu;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        v = b & 0x07u;
    } else {
        return 0;   // a continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[len] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

bool hpt_text_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

int hpt_text_check(const char *s, hpt_err *err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hpt_text_decode(p + i, n - i, &cp);
        if (k == 0)
            return hpt_err_set(err, -EINVAL, "invalid UTF-8 at byte %zu", i);
        if (hpt_text_is_control(cp))
            return hpt_err_set(err, -EINVAL, "control character U+%04X at byte %zu",
                               (unsigned)cp, i);
        i += k;
    }
    return 0;
}

bool hpt_text_needs_escape(const char *s, unsigned flags)
{
    if (flags & HPT_TEXT_ESC_QUOTES && strpbrk(s, "\"\\"))
        return true;
    return hpt_text_check(s, NULL) < 0;
}

/* The escape of one character (or one bad byte) into e (at least 8 bytes);
 * returns its length, 0 when it is copied as it is. */
static size_t escape_one(uint32_t cp, bool bad, unsigned flags, char *e)
{
    if (bad)
        return (size_t)snprintf(e, 8, "\\x%02x", (unsigned)cp);
    switch (cp) {
    case '\n': memcpy(e, "\\n", 2); return 2;
    case '\r': memcpy(e, "\\r", 2); return 2;
    case '\t': memcpy(e, "\\t", 2); return 2;
    case '"':
    case '\\':
        if (!(flags & HPT_TEXT_ESC_QUOTES))
            return 0;
        e[0] = '\\';
        e[1] = (char)cp;
        return 2;
    default:
        break;
    }
    if (cp < 0x20 || cp == 0x7F)
        return (size_t)snprintf(e, 8, "\\x%02x", (unsigned)cp);
    if (cp >= 0x80 && cp <= 0x9F)
        return (size_t)snprintf(e, 8, "\\u%04x", (unsigned)cp);
    return 0;
}

size_t hpt_text_escape(const char *s, unsigned flags, char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), o = 0, end = 0;
    bool cut = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hpt_text_decode(p + i, n - i, &cp);
        bool bad = k == 0;
        if (bad)
            k = 1;
        char e[8];
        size_t el = escape_one(cp, bad, flags, e);
        size_t sl = el ? el : k;
        /* Whole escapes and whole characters only: a cut never leaves half a
         * UTF-8 sequence or a lone backslash behind. */
        if (!cut && o + sl < len) {
            memcpy(buf + o, el ? e : (const char *)p + i, sl);
            end = o + sl;
        } else {
            cut = true;
        }
        o += sl;
        i += k;
    }
    if (len)
        buf[end] = '\0';
    return o;
}
