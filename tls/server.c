/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Owner of the TLS side's shared, read-only state: the server key pair
 * (wiped at exit), the TLS context and the per-thread listeners.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "config/addr.h"
#include "config/validate.h"
#include "base/log.h"
#include "dataplane/dataplane.h"
#include "tls/handshake.h"
#include "tls/keyfile.h"
#include "tls/listener.h"
#include "tls/tls.h"
#include "tls/tls_conn.h"
#include "tls/tls_thread.h"

struct tls_server {
	uint8_t priv[32];
	uint8_t pub[32];
	uint8_t mesh_key[32];
	bool has_mesh_key;
	struct tls_ctx *ctx;		/* the published one */
	struct tls_ctx_pub ctx_pub;
	pthread_mutex_t swap_lock;	/* writers: ACME thread, SIGHUP */
	const struct derper_config *cfg;
	unsigned int nb_threads;
	struct tls_thread *threads;
	bool *running;
	int port;
	_Atomic uint32_t all_sessions;	/* across threads: limits.max_sessions */
	_Atomic int64_t max_sessions;	/* the limit in force, for metrics */
};

static struct tls_server srv;

static int
load_key(const struct derper_config *cfg)
{
	char err[512], hex[65], short_key[8];
	bool created = false;
	int rc;

	if (cfg->dev) {
		tls_key_generate(srv.priv);
	} else {
		rc = tls_keyfile_load(cfg->key_file, srv.priv, &created, err,
				      sizeof(err));
		if (rc) {
			LOG_ERR("tls: server key", "error=\"%s\"", err);
			return rc;
		}
	}
	tls_key_public(srv.priv, srv.pub);
	tls_key_hex(srv.pub, hex);
	tls_key_short(srv.pub, short_key);
	LOG_INFO("tls: server key", "key=%s public=nodekey:%s file=\"%s\" created=%s",
		 short_key, hex, cfg->dev ? "(dev: ephemeral)" : cfg->key_file,
		 created ? "yes" : "no");
	return 0;
}

static int
load_mesh_key(const struct derper_config *cfg)
{
	char err[512];
	int rc;

	if (!*cfg->mesh.psk_file)
		return 0;
	rc = tls_mesh_key_load(cfg->mesh.psk_file, srv.mesh_key, err, sizeof(err));
	if (rc) {
		LOG_ERR("tls: mesh key", "error=\"%s\"", err);
		return rc;
	}
	srv.has_mesh_key = true;
	LOG_INFO("tls: mesh key loaded", "file=\"%s\"", cfg->mesh.psk_file);
	return 0;
}

/* derper logs the DERP map node to paste for a self-signed IP cert. */
static void
log_node(const struct derper_config *cfg)
{
	char sha[65];

	if (!srv.ctx || tls_ctx_leaf_sha256(srv.ctx, sha))
		return;
	LOG_INFO("tls: certificate", "mode=%s hostname=\"%s\" CertName=\"sha256-raw:%s\"",
		 cfg->cert.mode == CFG_CERT_MANUAL ? "manual" :
		 cfg->cert.mode == CFG_CERT_SELFSIGNED ? "selfsigned" : "letsencrypt",
		 cfg->hostname, sha);
}

/* /derper/tls: the TLS threads' counters, closes and drops by reason. */
static int
tel_tls(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const uint32_t fwd_us[] = TLS_FWD_BOUNDS_US;
	struct tls_counters c;
	const struct {
		const char *name;
		const uint64_t *v;
	} f[] = {
		{"accepts", &c.accepts}, {"sessions_derp", &c.sessions_derp},
		{"sessions_ws", &c.sessions_ws}, {"http_requests", &c.http_requests},
		{"tls13_records", &c.tls13_records}, {"tls_openssl", &c.tls_openssl},
		{"key_updates_in", &c.key_updates_in},
		{"key_updates_out", &c.key_updates_out},
		{"frames_in", &c.frames_in}, {"packets_in", &c.packets_in},
		{"bytes_in", &c.bytes_in}, {"packets_out", &c.packets_out},
		{"bytes_out", &c.bytes_out}, {"pings_in", &c.pings_in},
		{"pongs_out", &c.pongs_out}, {"keepalives", &c.keepalives},
		{"restarting_sent", &c.restarting_sent},
		{"reads", &c.reads}, {"writes", &c.writes}, {"throttles", &c.throttles},
		{"output_pauses", &c.output_pauses}, {"accept_pauses", &c.accept_pauses},
		{"read_yields", &c.read_yields}, {"early_flushes", &c.early_flushes},
		{"queued_bytes", &c.queued_bytes},
	};
	char name[64];

	(void)cmd;
	(void)params;
	tls_server_counters(&c);
	rte_tel_data_start_dict(d);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		rte_tel_data_add_dict_u64(d, f[i].name, *f[i].v);
	for (int r = 0; r < TLS_CLOSE_NB; r++) {
		snprintf(name, sizeof(name), "close_%s", tls_close_reason_name(r));
		rte_tel_data_add_dict_u64(d, name, c.closes[r]);
	}
	for (int r = 0; r < TLS_DROP_NB; r++) {
		snprintf(name, sizeof(name), "drop_%s", tls_drop_reason_name(r));
		rte_tel_data_add_dict_u64(d, name, c.drops[r]);
	}
	/* forward delay: packets per bucket, not cumulative */
	for (int b = 0; b < TLS_FWD_BUCKETS; b++) {
		if (b < TLS_FWD_BUCKETS - 1)
			snprintf(name, sizeof(name), "fwd_delay_le_%uus", fwd_us[b]);
		else
			snprintf(name, sizeof(name), "fwd_delay_le_inf");
		rte_tel_data_add_dict_u64(d, name, c.fwd_hist[b]);
	}
	return 0;
}

int
tls_server_init(const struct derper_config *cfg,
		struct admit_link *(*admit)(unsigned int tls))
{
	static bool tel_registered;
	char err[512];
	int rc;

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.swap_lock, NULL);
	srv.cfg = cfg;
	atomic_store_explicit(&srv.max_sessions, cfg->limits.max_sessions, memory_order_relaxed);
	if (tls_crypto_init()) {
		LOG_ERR("tls: libsodium init failed", "%s", "");
		return -EIO;
	}
	rc = load_key(cfg);
	if (rc == 0)
		rc = load_mesh_key(cfg);
	if (rc)
		return rc;
	if (cfg_serves_tls(cfg)) {
		srv.ctx = tls_ctx_create(cfg, srv.pub, err, sizeof(err));
		if (!srv.ctx) {
			LOG_ERR("tls: certificate", "error=\"%s\"", err);
			return -EINVAL;
		}
		log_node(cfg);
	}
	atomic_store(&srv.ctx_pub.ctx, srv.ctx);
	atomic_store(&srv.ctx_pub.cfg, cfg);
	atomic_store(&srv.ctx_pub.gen, 1);
	srv.nb_threads = (unsigned int)cfg->dataplane.tls_threads;
	srv.threads = calloc(srv.nb_threads, sizeof(*srv.threads));
	srv.running = calloc(srv.nb_threads, sizeof(*srv.running));
	if (!srv.threads || !srv.running)
		return -ENOMEM;
	for (unsigned int i = 0; i < srv.nb_threads; i++)
		srv.threads[i].epfd = srv.threads[i].listen_fd =
			srv.threads[i].http80_fd = -1;
	for (unsigned int i = 0; i < srv.nb_threads; i++) {
		/* the first bind picks an ephemeral port; the others join it */
		int fd = tls_listener_open(cfg->listen, i ? srv.port : -1, err,
					   sizeof(err));

		if (fd < 0) {
			LOG_ERR("tls: cannot listen", "error=\"%s\"", err);
			return fd;
		}
		if (i == 0)
			srv.port = tls_listener_port(fd);
		rc = tls_thread_init(&srv.threads[i], i, cfg, srv.ctx, srv.priv,
				     srv.pub, fd, dp_tls_link(i), admit ? admit(i) : NULL);
		srv.threads[i].mesh_key = srv.has_mesh_key ? srv.mesh_key : NULL;
		srv.threads[i].nb_threads = srv.nb_threads;
		srv.threads[i].all_sessions = &srv.all_sessions;
		/* queued packets may hold half the DERP pool, shared evenly */
		srv.threads[i].q_budget = (uint64_t)dp_tls_link(i)->pool->size *
					  RTE_MBUF_DEFAULT_DATAROOM / 2 / srv.nb_threads;
		srv.threads[i].pool_reserve = dp_tls_link(i)->pool->size / 8;
		if (rc == 0) {
			srv.threads[i].ctx_pub = &srv.ctx_pub;
			srv.threads[i].ctx_gen = 1;
			atomic_store(&srv.threads[i].ctx_seen, 1);
		}
		if (rc) {
			LOG_ERR("tls: thread setup failed", "tls=%u error=\"%s\"", i,
				strerror(-rc));
			return rc;
		}
		/* derper's port-80 companion, only beside TLS */
		if (srv.ctx && cfg->http_port > 0) {
			fd = tls_listener_open(cfg->listen, (int)cfg->http_port, err,
					       sizeof(err));
			if (fd < 0) {
				LOG_ERR("tls: cannot listen on http_port", "error=\"%s\"", err);
				return fd;
			}
			rc = tls_thread_add_http80(&srv.threads[i], fd);
			if (rc) {
				close(fd);
				return rc;
			}
		}
	}
	if (!tel_registered) {
		rte_telemetry_register_cmd("/derper/tls", tel_tls,
					   "TLS thread counters summed over threads");
		tel_registered = true;
	}
	LOG_INFO("tls: serving", "listen=\"%s\" port=%d tls=%s threads=%u derp=%s http_port=%d",
		 cfg->listen, srv.port, srv.ctx ? "yes" : "no (plain HTTP)",
		 srv.nb_threads, cfg->derp ? "yes" : "no",
		 srv.ctx && cfg->http_port > 0 ? (int)cfg->http_port : -1);
	return 0;
}

int
tls_server_start(const cpu_set_t *cpus)
{
	for (unsigned int i = 0; i < srv.nb_threads; i++) {
		int rc = tls_thread_start(&srv.threads[i], cpus);

		if (rc) {
			LOG_ERR("tls: cannot start thread", "tls=%u error=\"%s\"", i,
				strerror(-rc));
			return rc;
		}
		srv.running[i] = true;
	}
	return 0;
}

unsigned long
tls_server_drain(void)
{
	struct tls_counters before = {0}, after = {0};
	struct timespec deadline;
	int64_t timeout_s = srv.nb_threads ? srv.threads[0].cfg->shutdown.drain_timeout_s : 0;

	tls_server_counters(&before);
	for (unsigned int i = 0; i < srv.nb_threads; i++)
		if (srv.running[i])
			tls_thread_request_drain(&srv.threads[i]);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_s + 1;
	for (unsigned int i = 0; i < srv.nb_threads; i++) {
		if (!srv.running[i])
			continue;
		if (pthread_timedjoin_np(srv.threads[i].thread, NULL, &deadline) == 0)
			srv.running[i] = false;
	}
	tls_server_stop();
	tls_server_counters(&after);
	return (unsigned long)(after.restarting_sent - before.restarting_sent);
}

void
tls_server_stop(void)
{
	for (unsigned int i = 0; i < srv.nb_threads; i++) {
		if (srv.running[i])
			tls_thread_stop(&srv.threads[i]);
		srv.running[i] = false;
	}
}

void
tls_server_uninit(void)
{
	for (unsigned int i = 0; srv.threads && i < srv.nb_threads; i++)
		tls_thread_uninit(&srv.threads[i]);
	free(srv.threads);
	free(srv.running);
	tls_ctx_put(srv.ctx);
	tls_key_wipe(srv.priv, sizeof(srv.priv));
	tls_key_wipe(srv.mesh_key, sizeof(srv.mesh_key));
	memset(&srv, 0, sizeof(srv));
}

struct tls_ctx *
tls_server_new_ctx(char *err, size_t errlen)
{
	if (!srv.ctx) {
		snprintf(err, errlen, "TLS is not served");
		return NULL;
	}
	return tls_ctx_create(srv.cfg, srv.pub, err, errlen);
}

/* Publish the context and snapshot in srv.ctx_pub; wake every thread and
 * wait until each has taken them. True when all have. Under swap_lock. */
static bool
publish(void)
{
	uint64_t gen = atomic_fetch_add_explicit(&srv.ctx_pub.gen, 1, memory_order_acq_rel) + 1;
	bool all = false;

	for (unsigned int i = 0; i < srv.nb_threads; i++)
		tls_thread_kick(&srv.threads[i]);
	for (int ms = 0; ms < 5000 && !all; ms++) {
		all = true;
		for (unsigned int i = 0; i < srv.nb_threads; i++)
			if (atomic_load_explicit(&srv.threads[i].ctx_seen,
						 memory_order_acquire) < gen)
				all = false;
		if (!all)
			usleep(1000);
	}
	if (!all)
		LOG_WARN("tls: a thread did not take the new snapshot in 5 s; the old one is kept",
			 "%s", "");
	return all;
}

int
tls_server_set_ctx(struct tls_ctx *ctx)
{
	struct tls_ctx *old;

	if (!srv.ctx || !ctx)
		return -EINVAL;
	pthread_mutex_lock(&srv.swap_lock);
	old = srv.ctx;
	atomic_store_explicit(&srv.ctx_pub.ctx, ctx, memory_order_release);
	srv.ctx = ctx;
	/* every thread moves to the new context within one loop iteration;
	 * only then is the old one let go (handshakes in flight hold their
	 * own reference to it) */
	if (publish())
		tls_ctx_put(old);
	log_node(srv.cfg);
	pthread_mutex_unlock(&srv.swap_lock);
	return 0;
}

int64_t
tls_server_max_sessions(void)
{
	return atomic_load_explicit(&srv.max_sessions, memory_order_relaxed);
}

int
tls_server_set_cfg(const struct derper_config *cfg)
{
	bool all;

	if (!srv.threads)
		return 0;
	pthread_mutex_lock(&srv.swap_lock);
	atomic_store_explicit(&srv.ctx_pub.cfg, cfg, memory_order_release);
	atomic_store_explicit(&srv.max_sessions, cfg->limits.max_sessions, memory_order_relaxed);
	all = publish();
	pthread_mutex_unlock(&srv.swap_lock);
	return all ? 0 : -ETIMEDOUT;
}

int
tls_server_port(void)
{
	return srv.port;
}

void
tls_server_counters(struct tls_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < srv.nb_threads; i++)
		tls_thread_counters(&srv.threads[i], out);
}

bool
tls_server_identity(const uint8_t **priv, const uint8_t **pub,
		    const uint8_t **mesh_key)
{
	*priv = srv.priv;
	*pub = srv.pub;
	*mesh_key = srv.has_mesh_key ? srv.mesh_key : NULL;
	return srv.nb_threads > 0;
}
