/*
 * text.h: what a string from a peer may hold, and how to show one that holds
 * anything else.
 *
 * A peer (a worker, a client) names things: a worker's name, host and
 * version, a dataset, a sweep, an error text.  Those strings reach log lines,
 * terminals (`hptune logs`, `hptune workers`) and JSON.  A control character
 * in one would move the cursor, recolour the screen or start a fake log line;
 * a byte that is not UTF-8 makes JSON invalid.  So:
 *
 *   - hpt_text_check says whether a string is "plain text": valid UTF-8
 *     (no overlong forms, no surrogates, nothing past U+10FFFF) without
 *     control characters (C0 U+0000..U+001F, DEL U+007F, C1 U+0080..U+009F).
 *     The coordinator refuses a Hello whose strings are not.
 *   - hpt_text_escape writes any string so that what it shows is plain text:
 *     \n \r \t, \xHH for the other C0 bytes, DEL and each byte that is not
 *     UTF-8, \u0080..\u009f for C1 characters; optionally \" and \\ (the
 *     logfmt and CLI forms).  Everything else is copied as is.
 *
 * Pure functions, no state: any thread.
 */
#ifndef HPT_TEXT_H
#define HPT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Decode the UTF-8 character at s (n bytes available, n >= 1).  Returns its
 * length in bytes (1..4) and the code point in *cp, or 0 when the bytes at s
 * are not a valid UTF-8 character (then *cp is the byte at s). */
size_t hpt_text_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Whether code point cp is a control character: C0, DEL or C1. */
bool hpt_text_is_control(uint32_t cp);

/* Whether s (borrowed, NUL-terminated) is plain text (above).  When it is
 * not, err (may be NULL) says why and where: "control character U+001B at
 * byte 4" or "invalid UTF-8 at byte 7".  Returns 0 or -EINVAL. */
int hpt_text_check(const char *s, hpt_err *err);

/* hpt_text_escape flags. */
#define HPT_TEXT_ESC_QUOTES 1u  // also write " as \" and \ as \\ (logfmt's quoted values)

/* Write s (borrowed) escaped as described above into buf (len bytes; the
 * result is cut at a whole escape or character and NUL-terminated when len >
 * 0).  Returns the length the whole result needs (without the NUL), as
 * snprintf does, so a caller can tell it was cut. */
size_t hpt_text_escape(const char *s, unsigned flags, char *buf, size_t len);

/* Whether s needs hpt_text_escape to be shown (it is not plain text, or with
 * HPT_TEXT_ESC_QUOTES, holds " or \). */
bool hpt_text_needs_escape(const char *s, unsigned flags);

#endif
