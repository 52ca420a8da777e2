/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doubling buffers: output a session or mesh link has not sent yet, input
 * held back, a metrics page. One rule for all of them, with sizes in
 * size_t and no arithmetic that can wrap.
 */
#ifndef DERPER_BASE_BUF_H
#define DERPER_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Room for `need` bytes in buf (capacity *cap): the capacity doubles from
 * `first` until it fits, never past `max` (0: no limit of the caller's).
 * Returns the buffer, moved or not, with *cap updated; NULL, with buf and
 * *cap untouched, when need is over max or memory is short.
 */
static inline void *
buf_grow(void *buf, size_t *cap, size_t need, size_t first, size_t max)
{
	size_t c = *cap ? *cap : first;
	void *n;

	if (need <= *cap)
		return buf;
	if (!max || max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	if (need > max || c == 0)
		return NULL;
	while (c < need)
		c = c > max / 2 ? max : c * 2;
	n = realloc(buf, c);
	if (n)
		*cap = c;
	return n;
}

#endif /* DERPER_BASE_BUF_H */
