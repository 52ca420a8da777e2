/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet classifier with the STUN parser behind it, as the poll loop
 * runs them: any frame in; an accepted request must become a reply whose
 * length fits what the loop allows and which is never a request itself
 * (no answer loop, even with a client on port 3478). The fused fast
 * path for Tailscale's IPv4 request must agree with the general one: what
 * it accepts, the general path classifies and parses the same way (with
 * the UDP checksum left to the FINGERPRINT, as the loop does).
 */
#include <stdint.h>
#include <string.h>

#include "dataplane/classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[2048 + 64];
	uint8_t txid[12], fast_id[12];
	struct dp_pkt pk, fast;
	enum dp_class_reason why;
	bool fingerprinted;
	size_t len;

	if (size > 2048)
		return 0;
	memcpy(frame, data, size);
	if (dp_classify_ts4(frame, size, 3478, &fast, fast_id)) {
		if (dp_classify(frame, size, 3478, true, &pk, &why) != DP_CLASS_STUN ||
		    pk.l2_len != fast.l2_len || pk.l4_off != fast.l4_off ||
		    pk.family != fast.family || pk.payload_len != fast.payload_len ||
		    stun_parse_request_fp(frame + pk.l4_off + 8, pk.payload_len, true, txid,
					  &fingerprinted) != STUN_OK ||
		    !fingerprinted || memcmp(txid, fast_id, 12) != 0)
			__builtin_trap();
	}
	if (dp_classify(frame, size, 3478, false, &pk, &why) != DP_CLASS_STUN)
		return 0;
	if (stun_parse_request(frame + pk.l4_off + 8, pk.payload_len, false, txid) != STUN_OK)
		return 0;
	len = dp_stun_reply(frame, &pk, txid);
	if (len > size + 64 || len < pk.l4_off + 8u + 32u)
		__builtin_trap();
	/* the reply is never answered in turn: classified for 3478 it is not
	 * STUN, or (a client whose own port is 3478) not a Binding Request */
	if (dp_classify(frame, len, 3478, false, &pk, &why) == DP_CLASS_STUN &&
	    stun_parse_request(frame + pk.l4_off + 8, pk.payload_len, false, txid) == STUN_OK)
		__builtin_trap();
	return 0;
}
