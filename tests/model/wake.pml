/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wake-up protocol of dataplane/wake.h, checked by SPIN on a machine
 * with store buffers (x86's TSO: a thread's store reaches memory later,
 * its own later loads of other addresses may run first).
 *
 *   producer: tail = 1 (enqueue); [fence]; if (sleeping) kick
 *   consumer: sleeping = 1;       [fence]; if (tail == 0) sleep until kick
 *
 * The property: the consumer never stays asleep on a non-empty ring. With
 * -DFENCE (the code as it is) SPIN proves it over every interleaving and
 * every moment a buffered store drains; without the fences it finds the
 * lost wake-up. tests/model/run checks both.
 */
bit tail = 0;		/* the ring's tail in memory: 1 = an entry */
bit sleeping = 0;	/* the consumer's flag in memory */
bit kick = 0;		/* the eventfd was written */

/* one pending store per thread */
bit p_pending = 0;	/* producer's store of tail */
bit c_pending = 0;	/* consumer's store of sleeping */

active proctype producer()
{
	p_pending = 1;			/* tail = 1, into the store buffer */
#ifdef FENCE
	(p_pending == 0);		/* seq_cst fence: the buffer drains */
#endif
	if
	:: sleeping == 1 -> kick = 1	/* the load of sleeping */
	:: else -> skip
	fi
}

active proctype consumer()
{
	c_pending = 1;			/* sleeping = 1, into the store buffer */
#ifdef FENCE
	(c_pending == 0);
#endif
	if
	:: tail == 1 -> skip		/* the re-check finds the entry */
	:: else ->
		if
		:: kick == 1 -> skip	/* woken */
		:: timeout -> assert(tail == 0)	/* asleep on a non-empty ring */
		fi
	fi
}

/* the store buffers drain to memory, at any moment */
active proctype memory()
{
end:	do
	:: atomic { p_pending == 1 -> tail = 1; p_pending = 0 }
	:: atomic { c_pending == 1 -> sleeping = 1; c_pending = 0 }
	od
}
