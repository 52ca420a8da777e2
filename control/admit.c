/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The admission thread (see admit.h). Its state is a table of entries,
 * keyed by (node key, source address):
 *
 *   pending   a lookup is running; the sessions waiting for it are listed
 *   allow     admitted; remembered for verify.cache_ttl_s
 *   deny      rejected by an answer (not by a transport error); remembered
 *             for verify.negative_ttl_s
 *
 * A lookup is a chain of HTTP requests on one libcurl multi handle:
 * tailscaled's LocalAPI over its unix socket (verify.clients), then the
 * webhook (verify.url). The accept/reject rules are those of derper
 * (docs/protocol.md §8.1, §8.2), decided by admit_decide_*() in
 * admit_rules.c, which are pure and unit-tested.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_telemetry.h>

#include "control/prom.h"
#include "control/admit.h"
#include "control/json_body.h"
#include "control/admit_rules.h"
#include "base/clock.h"
#include "base/log.h"
#include "dataplane/dataplane.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"

enum {
	BUCKETS = 16384,
	ENTRIES_MAX = 200000,		/* cache entries, pending ones included */
	JOBS_MAX = 4096,		/* HTTP lookups at once */
	WEBHOOK_TIMEOUT_MS = 5000,	/* derper's */
	LOCALAPI_BODY_MAX = 1 << 20,
	BURST = 64,
	SWEEP_BUCKETS = 1024,		/* cache buckets pruned per second */
};

/* derper sends its capability version; tailscaled only reads it. */
#define TAILSCALE_CAP "130"

struct waiter {
	uint16_t tls;
	uint32_t id, gen;
	struct waiter *next;
};

enum entry_state { E_PENDING, E_ALLOW, E_DENY };

struct job;

struct entry {
	uint8_t key[32];
	uint8_t ip[16];
	uint8_t state;
	uint8_t reason;			/* E_DENY: why */
	uint64_t expires_ms;
	struct job *job;		/* E_PENDING */
	struct entry *next;		/* bucket chain */
};

enum stage { STAGE_LOCALAPI, STAGE_STATUS_WAIT, STAGE_WEBHOOK };

/* How the local tailscaled answers verify.clients: whois by node key
 * (v1.70 and later), or only its status, whose peer list the relay then
 * keeps (every version). Found out from the first answer. */
enum localapi_mode { MODE_UNKNOWN, MODE_WHOIS, MODE_STATUS, MODE_NB };

enum { STATUS_KEYS_MAX = 1 << 20, STATUS_TIMER_FACTOR = 10 };

struct job {
	struct entry *e;
	uint8_t stage;
	CURL *easy;
	struct curl_slist *hdrs;
	char url[512];
	char post[160];
	char *body;
	size_t body_len, body_max;
	struct waiter *waiters;
	struct job *next_wait;		/* STAGE_STATUS_WAIT: the list */
	uint64_t wait_ms;		/* ... since when */
};

struct admit_counters {
	uint64_t requests;
	uint64_t cache_hits;
	uint64_t coalesced;		/* joined a lookup in progress */
	uint64_t localapi_calls;
	uint64_t status_fetches;	/* /localapi/v0/status (status mode) */
	uint64_t webhook_calls;
	uint64_t admitted;
	uint64_t admitted_fail_open;	/* of those: webhook unreachable */
	uint64_t rejected[ADMIT_REASON_NB];
};

#define ADMIT_COUNT(field, n)                                             \
	__atomic_store_n(&adm.cnt.field, adm.cnt.field + (n), __ATOMIC_RELAXED)

static struct {
	const struct derper_config *cfg;	/* the thread's snapshot */
	/* SIGHUP: a new snapshot, adopted at the top of the thread's loop */
	_Atomic(const struct derper_config *) next_cfg;
	_Atomic uint64_t cfg_gen, cfg_seen;
	unsigned int nb_tls;
	struct admit_link links[64];
	struct dp_wake *tls_wake[64];
	struct dp_wake wake;		/* ours: TLS threads kick it */
	pthread_t thread;
	bool started;
	_Atomic int quit;
	CURLM *multi;
	struct entry **buckets;
	unsigned int nb_entries;
	unsigned int nb_jobs;
	unsigned int sweep_pos;
	uint64_t next_sweep_ms;
	struct admit_counters cnt;
	/* status mode: the node's peer list (sorted keys) and its fetch */
	_Atomic int mode;			/* enum localapi_mode */
	struct {
		CURL *easy;
		char *body;
		size_t len;
		uint8_t (*keys)[32];
		size_t nb_keys;
		uint64_t fetched_ms;		/* 0: never */
		uint64_t started_ms;		/* of the fetch in progress */
		struct job *fetch;		/* the fetch in progress */
		struct job *waiting;		/* jobs for the next list */
	} st;
} adm;

bool
ctl_admit_enabled(const struct derper_config *cfg)
{
	return cfg->verify.clients || *cfg->verify.url;
}

/* ------------------------------------------------------------------ */
/* The table                                                            */

static unsigned int
bucket_of(const uint8_t key[32], const uint8_t ip[16])
{
	uint64_t h = 1469598103934665603ULL;

	/* node keys are uniformly random: a few bytes spread well */
	for (int i = 0; i < 8; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 1099511628211ULL;
	return (unsigned int)(h & (BUCKETS - 1));
}

static struct entry **
find(const uint8_t key[32], const uint8_t ip[16])
{
	struct entry **pp = &adm.buckets[bucket_of(key, ip)];

	for (; *pp; pp = &(*pp)->next)
		if (memcmp((*pp)->key, key, 32) == 0 && memcmp((*pp)->ip, ip, 16) == 0)
			return pp;
	return pp;
}

static void
unlink_entry(struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	free(e);
	adm.nb_entries--;
}

/* Drop expired verdicts from a slice of the table. */
static void
sweep(uint64_t now)
{
	for (unsigned int n = 0; n < SWEEP_BUCKETS; n++) {
		struct entry **pp = &adm.buckets[adm.sweep_pos];

		while (*pp) {
			if ((*pp)->state != E_PENDING && (*pp)->expires_ms <= now)
				unlink_entry(pp);
			else
				pp = &(*pp)->next;
		}
		adm.sweep_pos = (adm.sweep_pos + 1) & (BUCKETS - 1);
	}
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                             */

static void
reply(uint16_t tls, uint32_t id, uint32_t gen, uint8_t verdict, uint8_t reason)
{
	struct admit_msg m = {.id = id, .gen = gen, .verdict = verdict, .reason = reason};

	if (tls >= adm.nb_tls)
		return;
	/* the response ring is as large as the request ring: a TLS thread
	 * never has more requests out than fit, so this cannot fail */
	if (rte_ring_sp_enqueue_elem(adm.links[tls].resp, &m, sizeof(m)) == 0)
		dp_wake_kick(adm.tls_wake[tls]);
}

static void
count_verdict(uint8_t verdict, uint8_t reason)
{
	if (verdict == ADMIT_ALLOW) {
		ADMIT_COUNT(admitted, 1);
		if (reason == ADMIT_FAIL_OPEN)
			ADMIT_COUNT(admitted_fail_open, 1);
	} else
		ADMIT_COUNT(rejected[reason], 1);
}

static void
log_rejection(const struct entry *e, uint8_t reason)
{
	char short_key[8], src[INET6_ADDRSTRLEN];

	tls_key_short(e->key, short_key);
	admit_source(e->ip, src, sizeof(src));
	LOG_WARN("admission: client rejected", "key=%s src=\"%s\" reason=%s",
		 short_key, src, admit_reason_name(reason));
}

static void
job_free(struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(adm.multi, j->easy);
		curl_easy_cleanup(j->easy);
	}
	curl_slist_free_all(j->hdrs);
	free(j->body);
	while (j->waiters) {
		struct waiter *w = j->waiters;

		j->waiters = w->next;
		free(w);
	}
	free(j);
	adm.nb_jobs--;
}

/* The lookup of e is over: tell every waiting session, remember or forget. */
static void
finish(struct entry **pp, uint8_t verdict, uint8_t reason, bool cache)
{
	struct entry *e = *pp;
	struct job *j = e->job;
	int64_t ttl = verdict == ADMIT_ALLOW ? adm.cfg->verify.cache_ttl_s
					     : adm.cfg->verify.negative_ttl_s;

	if (verdict == ADMIT_REJECT)
		log_rejection(e, reason);
	for (struct waiter *w = j->waiters; w; w = w->next) {
		count_verdict(verdict, reason);
		reply(w->tls, w->id, w->gen, verdict, reason);
	}
	e->job = NULL;
	job_free(j);
	if (!cache || ttl <= 0) {
		unlink_entry(pp);
		return;
	}
	e->state = verdict == ADMIT_ALLOW ? E_ALLOW : E_DENY;
	e->reason = reason;
	e->expires_ms = clock_mono_ms() + (uint64_t)ttl * 1000;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, take = len;

	if (j->body_len + take > j->body_max)
		take = j->body_max - j->body_len;	/* the rest is not read */
	if (take) {
		char *b = realloc(j->body, j->body_len + take + 1);

		if (!b)
			return 0;	/* aborts the transfer: a transport error */
		j->body = b;
		memcpy(j->body + j->body_len, data, take);
		j->body_len += take;
		j->body[j->body_len] = '\0';
	}
	return len;
}

static int
start_stage(struct job *j, enum stage stage)
{
	const struct derper_config *cfg = adm.cfg;
	struct entry *e = j->e;
	char hex[65], src[INET6_ADDRSTRLEN], nodekey[8 + 65];

	if (j->easy) {
		curl_multi_remove_handle(adm.multi, j->easy);
		curl_easy_cleanup(j->easy);
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
	free(j->body);
	j->body = NULL;
	j->body_len = 0;
	j->stage = (uint8_t)stage;
	j->easy = curl_easy_init();
	if (!j->easy)
		return -ENOMEM;
	tls_key_hex(e->key, hex);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (stage == STAGE_LOCALAPI) {
		/* §8.1: GET over the unix socket, Host local-tailscaled.sock */
		snprintf(j->url, sizeof(j->url),
			 "http://local-tailscaled.sock/localapi/v0/whois?addr=nodekey%%3A%s",
			 hex);
		j->hdrs = curl_slist_append(j->hdrs, "Tailscale-Cap: " TAILSCALE_CAP);
		curl_easy_setopt(j->easy, CURLOPT_UNIX_SOCKET_PATH, cfg->verify.socket);
		curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS,
				 (long)cfg->verify.timeout_s * 1000);
		j->body_max = LOCALAPI_BODY_MAX;
		ADMIT_COUNT(localapi_calls, 1);
	} else {
		/* §8.2: POST JSON, no Content-Type, 5 s, body read to 4 KiB */
		snprintf(j->url, sizeof(j->url), "%s", cfg->verify.url);
		admit_source(e->ip, src, sizeof(src));
		snprintf(nodekey, sizeof(nodekey), "nodekey:%s", hex);
		ctl_json_pack(j->post, sizeof(j->post), "{s:s, s:s}", "NodePublic", nodekey,
			      "Source", src);
		j->hdrs = curl_slist_append(j->hdrs, "Content-Type:");
		j->hdrs = curl_slist_append(j->hdrs, "Accept:");
		j->hdrs = curl_slist_append(j->hdrs, "User-Agent: derper-dpdk/" DERPER_VERSION);
		curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->post);
		curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
		j->body_max = ADMIT_WEBHOOK_BODY_MAX;
		ADMIT_COUNT(webhook_calls, 1);
	}
	tls_key_wipe(hex, sizeof(hex));
	curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	return curl_multi_add_handle(adm.multi, j->easy) == CURLM_OK ? 0 : -ENOMEM;
}

/* tailscaled's answer for j's key (whois or the peer list): decide, or go
 * on to the webhook. */
static void
localapi_verdict(struct job *j, struct admit_outcome o)
{
	if (o.verdict == ADMIT_ALLOW && *adm.cfg->verify.url) {
		if (start_stage(j, STAGE_WEBHOOK) == 0)
			return;
		o = (struct admit_outcome){ADMIT_REJECT, ADMIT_OVERLOAD, false};
	}
	finish(find(j->e->key, j->e->ip), o.verdict, o.reason, o.cache);
}

static void
set_mode(int mode)
{
	static const char *const names[MODE_NB] = {"unknown", "whois", "status"};

	if (atomic_exchange(&adm.mode, mode) == mode || mode == MODE_UNKNOWN)
		return;
	LOG_INFO("admission: tailscaled verification mode", "mode=%s socket=\"%s\" why=\"%s\"",
		 names[mode], adm.cfg->verify.socket,
		 mode == MODE_WHOIS ? "whois by node key answered (tailscaled v1.70 or later)"
				    : "no whois by node key (tailscaled before v1.70): its peer list is kept");
}

/* ------------------------------------------------------------------ */
/* Status mode: the node's peer list                                   */

/* One GET /localapi/v0/status at a time, for every waiting key. */
static void
status_fetch(uint64_t now)
{
	struct job *j;

	if (adm.st.fetch || !(j = calloc(1, sizeof(*j))))
		return;
	adm.nb_jobs++;
	j->easy = curl_easy_init();
	if (!j->easy) {
		job_free(j);
		return;
	}
	snprintf(j->url, sizeof(j->url), "http://local-tailscaled.sock/localapi/v0/status");
	j->hdrs = curl_slist_append(NULL, "Tailscale-Cap: " TAILSCALE_CAP);
	j->body_max = ADMIT_STATUS_BODY_MAX;
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(j->easy, CURLOPT_UNIX_SOCKET_PATH, adm.cfg->verify.socket);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)adm.cfg->verify.timeout_s * 1000);
	curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	if (curl_multi_add_handle(adm.multi, j->easy) != CURLM_OK) {
		job_free(j);
		return;
	}
	adm.st.fetch = j;
	adm.st.started_ms = now;
	ADMIT_COUNT(status_fetches, 1);
}

/* A key the list has is admitted at once; any other waits for a list
 * fetched after it asked (at most every verify.refresh_ms), so a node the
 * tailnet has just added gets in within about that. */
static void
status_lookup(struct job *j, uint64_t now)
{
	if (j->easy) {
		curl_multi_remove_handle(adm.multi, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	if (admit_key_in((const uint8_t (*)[32])adm.st.keys, adm.st.nb_keys, j->e->key)) {
		localapi_verdict(j, (struct admit_outcome){ADMIT_ALLOW, ADMIT_OK, true});
		return;
	}
	j->stage = STAGE_STATUS_WAIT;
	j->wait_ms = now;
	j->next_wait = adm.st.waiting;
	adm.st.waiting = j;
}

/* Due: a fetch for waiting keys (at most every refresh_ms), or the timer's. */
static void
status_tick(uint64_t now)
{
	uint64_t every = (uint64_t)adm.cfg->verify.refresh_ms;

	if (adm.st.fetch || atomic_load(&adm.mode) != MODE_STATUS)
		return;
	if ((adm.st.waiting && now >= adm.st.fetched_ms + every) ||
	    now >= adm.st.fetched_ms + STATUS_TIMER_FACTOR * every)
		status_fetch(now);
}

/* The list came (or did not): decide for every key that waited since
 * before the fetch began; later ones wait for the next. */
static void
status_done(struct job *f, CURLcode res, long code)
{
	struct admit_outcome o = {ADMIT_REJECT, ADMIT_LOCALAPI_DOWN, false};
	struct job **pp = &adm.st.waiting;
	uint8_t (*keys)[32] = NULL;
	size_t n = 0, max = f->body_len / 72 + 2;

	adm.st.fetch = NULL;
	if (res == CURLE_OK && code == 200 && (keys = malloc(max * 32)) &&
	    admit_parse_status(f->body, f->body_len, keys, max, &n) == 0) {
		free(adm.st.keys);
		adm.st.keys = keys;
		adm.st.nb_keys = n;
		adm.st.fetched_ms = clock_mono_ms();
		o.reason = ADMIT_UNKNOWN_KEY;
		o.cache = true;
	} else {
		free(keys);
		if (res == CURLE_OK)
			o = (struct admit_outcome){ADMIT_REJECT, ADMIT_LOCALAPI_STATUS, true};
		else
			set_mode(MODE_UNKNOWN);	/* find out again once it is back */
		adm.st.fetched_ms = clock_mono_ms();
		LOG_WARN("admission: tailscaled status failed", "status=%ld error=\"%s\"", code,
			 curl_easy_strerror(res));
	}
	job_free(f);
	while (*pp) {
		struct job *j = *pp;

		if (j->wait_ms > adm.st.started_ms) {
			pp = &j->next_wait;
			continue;
		}
		*pp = j->next_wait;
		if (o.reason == ADMIT_UNKNOWN_KEY &&
		    admit_key_in((const uint8_t (*)[32])adm.st.keys, adm.st.nb_keys, j->e->key))
			localapi_verdict(j, (struct admit_outcome){ADMIT_ALLOW, ADMIT_OK, true});
		else
			localapi_verdict(j, o);
	}
}

/* A transfer ended: decide, or go on to the next check. */
static void
on_done(CURL *easy, CURLcode res)
{
	struct job *j = NULL;
	struct entry **pp;
	long status = 0;
	struct admit_outcome o;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
	if (!j)
		return;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (j == adm.st.fetch) {
		status_done(j, res, status);
		return;
	}
	pp = find(j->e->key, j->e->ip);
	if (j->stage == STAGE_LOCALAPI) {
		o = admit_decide_localapi(res == CURLE_OK, status, j->body, j->body_len);
		if (o.reason == ADMIT_VERSION_SKEW) {
			set_mode(MODE_STATUS);
			status_lookup(j, clock_mono_ms());
			return;
		}
		if (res == CURLE_OK && (status == 200 || status == 404))
			set_mode(MODE_WHOIS);
		localapi_verdict(j, o);
		return;
	} else {
		o = admit_decide_webhook(res == CURLE_OK, status, j->body, j->body_len,
					 adm.cfg->verify.url_fail_open);
	}
	if (o.reason == ADMIT_LOCALAPI_DOWN || o.reason == ADMIT_WEBHOOK_DOWN ||
	    o.reason == ADMIT_FAIL_OPEN)
		LOG_WARN("admission: check unreachable", "check=%s error=\"%s\" verdict=%s",
			 j->stage == STAGE_LOCALAPI ? "localapi" : "webhook",
			 curl_easy_strerror(res),
			 o.verdict == ADMIT_ALLOW ? "admit (fail-open)" : "reject");
	finish(pp, o.verdict, o.reason, o.cache);
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

static void
on_request(uint16_t tls, const struct admit_msg *m, uint64_t now)
{
	struct entry **pp = find(m->key, m->ip), *e = *pp;
	struct waiter *w;
	struct job *j;

	ADMIT_COUNT(requests, 1);
	if (e && e->state != E_PENDING && e->expires_ms <= now) {
		unlink_entry(pp);
		pp = find(m->key, m->ip);
		e = NULL;
	}
	if (e && e->state != E_PENDING) {
		uint8_t verdict = e->state == E_ALLOW ? ADMIT_ALLOW : ADMIT_REJECT;

		ADMIT_COUNT(cache_hits, 1);
		count_verdict(verdict, e->reason);
		if (verdict == ADMIT_REJECT)
			log_rejection(e, e->reason);
		reply(tls, m->id, m->gen, verdict, e->state == E_ALLOW ? ADMIT_OK : e->reason);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto overload;
	w->tls = tls;
	w->id = m->id;
	w->gen = m->gen;
	if (e) {
		ADMIT_COUNT(coalesced, 1);
		w->next = e->job->waiters;
		e->job->waiters = w;
		return;
	}
	if (adm.nb_jobs >= JOBS_MAX || adm.nb_entries >= ENTRIES_MAX)
		goto overload_w;
	e = calloc(1, sizeof(*e));
	j = calloc(1, sizeof(*j));
	if (!e || !j) {
		free(e);
		free(j);
		goto overload_w;
	}
	memcpy(e->key, m->key, 32);
	memcpy(e->ip, m->ip, 16);
	e->state = E_PENDING;
	e->job = j;
	e->next = *pp;
	*pp = e;
	adm.nb_entries++;
	adm.nb_jobs++;
	j->e = e;
	j->waiters = w;
	if (adm.cfg->verify.clients && atomic_load(&adm.mode) == MODE_STATUS) {
		status_lookup(j, now);		/* no LocalAPI call per connection */
		return;
	}
	if (start_stage(j, adm.cfg->verify.clients ? STAGE_LOCALAPI : STAGE_WEBHOOK))
		finish(find(m->key, m->ip), ADMIT_REJECT, ADMIT_OVERLOAD, false);
	return;
overload_w:
	free(w);
overload:
	count_verdict(ADMIT_REJECT, ADMIT_OVERLOAD);
	reply(tls, m->id, m->gen, ADMIT_REJECT, ADMIT_OVERLOAD);
}

static unsigned int
drain_requests(uint64_t now)
{
	struct admit_msg ms[BURST];
	unsigned int total = 0;

	for (unsigned int t = 0; t < adm.nb_tls; t++) {
		unsigned int n = rte_ring_sc_dequeue_burst_elem(adm.links[t].req, ms,
								sizeof(ms[0]), BURST, NULL);

		for (unsigned int i = 0; i < n; i++)
			on_request((uint16_t)t, &ms[i], now);
		total += n;
	}
	return total;
}

static bool
requests_waiting(void)
{
	for (unsigned int t = 0; t < adm.nb_tls; t++)
		if (!rte_ring_empty(adm.links[t].req))
			return true;
	return false;
}

static void *
admit_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "derper-admit");
	while (!atomic_load(&adm.quit)) {
		uint64_t now = clock_mono_ms(), g = atomic_load(&adm.cfg_gen);

		if (g != atomic_load_explicit(&adm.cfg_seen, memory_order_relaxed)) {
			adm.cfg = atomic_load(&adm.next_cfg);
			atomic_store(&adm.cfg_seen, g);
		}
		struct curl_waitfd wfd = {.fd = adm.wake.efd, .events = CURL_WAIT_POLLIN};
		CURLMsg *msg;
		int running, left;
		unsigned int n = drain_requests(now);

		curl_multi_perform(adm.multi, &running);
		while ((msg = curl_multi_info_read(adm.multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				on_done(msg->easy_handle, msg->data.result);
		if (now >= adm.next_sweep_ms) {
			sweep(now);
			adm.next_sweep_ms = now + 1000;
		}
		status_tick(now);
		if (n)
			continue;
		dp_wake_prepare(&adm.wake);
		if (requests_waiting()) {
			dp_wake_done(&adm.wake, 0);
			continue;
		}
		/* keys waiting for the peer list: look at the clock often */
		curl_multi_poll(adm.multi, &wfd, 1, adm.st.waiting ? 50 : 1000, NULL);
		dp_wake_done(&adm.wake, wfd.revents & CURL_WAIT_POLLIN);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Telemetry: /derper/admission                                         */

/* ------------------------------------------------------------------ */

int
ctl_admit_init(const struct derper_config *cfg, unsigned int nb_tls)
{
	memset(&adm, 0, sizeof(adm));
	adm.wake.efd = -1;
	adm.cfg = cfg;
	if (!ctl_admit_enabled(cfg))
		return 0;
	if (nb_tls > sizeof(adm.links) / sizeof(adm.links[0]))
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		LOG_ERR("admission: libcurl init failed", "%s", "");
		return -EIO;
	}
	adm.multi = curl_multi_init();
	adm.buckets = calloc(BUCKETS, sizeof(*adm.buckets));
	adm.wake.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!adm.multi || !adm.buckets || adm.wake.efd < 0)
		return -ENOMEM;
	curl_multi_setopt(adm.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
	for (unsigned int t = 0; t < nb_tls; t++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "derper_adm_req%u", t);
		adm.links[t].req = rte_ring_create_elem(name, sizeof(struct admit_msg),
							ADMIT_RING_SIZE, (int)rte_socket_id(),
							RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "derper_adm_resp%u", t);
		adm.links[t].resp = rte_ring_create_elem(name, sizeof(struct admit_msg),
							 ADMIT_RING_SIZE, (int)rte_socket_id(),
							 RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!adm.links[t].req || !adm.links[t].resp) {
			LOG_ERR("admission: cannot create rings", "error=\"%s\"",
				rte_strerror(rte_errno));
			return -ENOMEM;
		}
		adm.links[t].admit_wake = &adm.wake;
		adm.tls_wake[t] = dp_tls_link(t)->wake;
		adm.nb_tls = t + 1;
	}
	rte_telemetry_register_cmd("/derper/admission", ctl_admit_telemetry,
				   "Client admission (verify-clients, webhook) counters");
	LOG_INFO("admission: on", "localapi=%s socket=\"%s\" webhook=%s fail_open=%s timeout_s=%lld cache_ttl_s=%lld negative_ttl_s=%lld",
		 cfg->verify.clients ? "yes" : "no", cfg->verify.socket,
		 *cfg->verify.url ? "yes" : "no",
		 cfg->verify.url_fail_open ? "yes" : "no",
		 (long long)cfg->verify.timeout_s, (long long)cfg->verify.cache_ttl_s,
		 (long long)cfg->verify.negative_ttl_s);
	return 0;
}

struct admit_link *
ctl_admit_link(unsigned int tls)
{
	return tls < adm.nb_tls ? &adm.links[tls] : NULL;
}

int
ctl_admit_start(void)
{
	int rc;

	if (!adm.nb_tls)
		return 0;
	rc = pthread_create(&adm.thread, NULL, admit_main, NULL);
	if (rc) {
		LOG_ERR("admission: cannot start its thread", "error=\"%s\"", strerror(rc));
		return -rc;
	}
	adm.started = true;
	return 0;
}

void
ctl_admit_stop(void)
{
	uint64_t one = 1;

	if (!adm.started)
		return;
	atomic_store(&adm.quit, 1);
	(void)!write(adm.wake.efd, &one, sizeof(one));
	pthread_join(adm.thread, NULL);
	adm.started = false;
}

void
ctl_admit_uninit(void)
{
	if (adm.buckets) {
		for (unsigned int b = 0; b < BUCKETS; b++) {
			while (adm.buckets[b]) {
				struct entry *e = adm.buckets[b];

				if (e->job)
					job_free(e->job);
				unlink_entry(&adm.buckets[b]);
			}
		}
		free(adm.buckets);
	}
	if (adm.st.fetch)
		job_free(adm.st.fetch);
	free(adm.st.keys);
	for (unsigned int t = 0; t < adm.nb_tls; t++) {
		rte_ring_free(adm.links[t].req);
		rte_ring_free(adm.links[t].resp);
	}
	if (adm.multi) {
		curl_multi_cleanup(adm.multi);
		curl_global_cleanup();
	}
	if (adm.wake.efd >= 0)
		close(adm.wake.efd);
	memset(&adm, 0, sizeof(adm));
}

void
ctl_admit_snapshot(struct admit_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->running = adm.started;
	out->localapi = adm.cfg && adm.cfg->verify.clients;
	out->mode = atomic_load(&adm.mode);
	out->requests = __atomic_load_n(&adm.cnt.requests, __ATOMIC_RELAXED);
	out->cache_hits = __atomic_load_n(&adm.cnt.cache_hits, __ATOMIC_RELAXED);
	out->coalesced = __atomic_load_n(&adm.cnt.coalesced, __ATOMIC_RELAXED);
	out->localapi_calls = __atomic_load_n(&adm.cnt.localapi_calls, __ATOMIC_RELAXED);
	out->status_fetches = __atomic_load_n(&adm.cnt.status_fetches, __ATOMIC_RELAXED);
	out->webhook_calls = __atomic_load_n(&adm.cnt.webhook_calls, __ATOMIC_RELAXED);
	out->admitted = __atomic_load_n(&adm.cnt.admitted, __ATOMIC_RELAXED);
	out->admitted_fail_open = __atomic_load_n(&adm.cnt.admitted_fail_open, __ATOMIC_RELAXED);
	for (int r = 0; r < ADMIT_REASON_NB; r++)
		out->rejected[r] = __atomic_load_n(&adm.cnt.rejected[r], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                              */

int
ctl_admit_set_cfg(const struct derper_config *cfg)
{
	uint64_t one = 1, g;

	if (!adm.started)
		return 0;
	atomic_store(&adm.next_cfg, cfg);
	g = atomic_fetch_add(&adm.cfg_gen, 1) + 1;
	(void)!write(adm.wake.efd, &one, sizeof(one));
	for (int ms = 0; ms < 5000; ms++) {
		if (atomic_load(&adm.cfg_seen) >= g)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

