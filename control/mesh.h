/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound regional mesh links (docs/protocol.md §7.3): one thread per
 * mesh.peers entry dials that sibling's /derp over TLS with this server's
 * key and the mesh key, sends WatchConns, and turns the sibling's
 * PeerPresent/PeerGone into forwarder-table updates for the forwarding
 * lcore; packets the lcore routes to the link are written to the sibling
 * as ForwardPacket. Each link has its own ring pair with the lcore.
 *
 * Control thread only.
 */
#ifndef DERPER_CONTROL_MESH_H
#define DERPER_CONTROL_MESH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The links the config asks for: mesh.peers minus the entry that is this
 * server's hostname (cfg_mesh_peer_is_own_name). Before dp_init(). */
unsigned int ctl_mesh_count(const struct derper_config *cfg);

/* Start the link threads; after tls_server_init() (the keys) and
 * dp_init() (the rings). 0 or -errno, logged. */
int ctl_mesh_start(const struct derper_config *cfg);

/* Stop and join every link thread (a connect in progress is cancelled). */
void ctl_mesh_stop(void);

/* Per-peer link metrics; and whether every link has had its first try
 * (readiness: a pod is not ready before its mesh had a chance). */
struct prom;
void ctl_mesh_metrics(struct prom *p);
bool ctl_mesh_settled(char *why, size_t n);

#endif /* DERPER_CONTROL_MESH_H */
