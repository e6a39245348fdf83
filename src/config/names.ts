// Strict patterns for every name that reaches a path, an nginx config or a
// command line. Validated before anything is rendered or run.

export const APP_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
/** A DNS label: lower-case letters, digits and inner hyphens. */
export const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A domain of at least two DNS labels, lower case, no trailing dot. */
export const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** An absolute path of plain characters (no spaces, quotes, semicolons, braces, ..). */
export const SAFE_ABS_PATH = /^(?:\/[A-Za-z0-9_.@+-]+)+\/?$|^\/$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Debian package names. */
export const DEB_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
/** A Docker image reference we accept for the base image. */
export const IMAGE_REF = /^[a-z0-9][a-z0-9._\/-]*(?::[A-Za-z0-9_.-]{1,128})?$/;
/** The WSGI entry point: module.path:callable, or module.path:factory() called once per process. */
export const WSGI_TARGET = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(?:\(\))?$/;

export function isSafeAbsPath(p: string): boolean {
  return SAFE_ABS_PATH.test(p) && !p.split("/").some((s) => s === ".." || s === ".");
}
