/**
 * Where the tool keeps its run-time files unless configured. /var/run exists
 * on Debian and OpenWrt alike and is a RAM file system writable only by root,
 * so a preshared key written there never reaches a disk.
 *
 * @module
 */

/** The run directory: lock files and the private preshared-key directories. */
export const RUN_DIR = "/var/run/wg-reinstate";

/** The status file: the last cycle and counters since boot, never a key, address or peer time. */
export const STATUS_FILE = `${RUN_DIR}/status.json`;

/** Where OpenWrt keeps the service's config. */
export const UCI_CONFIG_PATH = "/etc/config/wg-reinstate";

/** Where OpenWrt keeps its network config. */
export const UCI_NETWORK_PATH = "/etc/config/network";
