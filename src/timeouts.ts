// depl's fixed waits, in milliseconds, in one place: each says what it bounds.
// Waits a user chooses are in depl.yml (health.timeout, drain, canary.interval).

/** One health request that decides something: promote's check of a version, nginx's answer for a version or a preview, an install's concurrent round. */
export const HEALTH_REQUEST_MS = 10_000;
/** One probe while an install polls a starting version (a request that hangs is tried again, not waited for). */
export const HEALTH_PROBE_MS = 5_000;
/** An install gives up once the app has given the same HTTP failure for this long: it will not heal by waiting. */
export const HEALTH_SAME_FAILURE_MS = 5_000;
/** depl list's health column: one request to each running version. */
export const LIST_HEALTH_MS = 3_000;
/** After a reload, until nginx's new workers are there. */
export const NGINX_RELOAD_MS = 10_000;
/** Whether depl's own registry on this machine answers. */
export const REGISTRY_PROBE_MS = 3_000;
/** One request to a registry's API (tags, manifests, deletes). */
export const REGISTRY_REQUEST_MS = 5_000;
/** SSH: TCP connect, handshake and authentication, per hop. */
export const SSH_READY_MS = 20_000;
/** SSH: a keepalive this often, so that a dead connection is noticed and NAT keeps an idle one. */
export const SSH_KEEPALIVE_MS = 15_000;
/** SSH: how long closing waits for the server to end the connection. */
export const SSH_CLOSE_MS = 5_000;
