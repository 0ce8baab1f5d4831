/**
 * What every configurator's reader returns: the peers its files set up, with
 * where. A reader (wg-quick, networkd, netplan, NetworkManager, UCI) follows
 * its owner's rules for paths, precedence and syntax; ./protection.ts turns
 * the peers of one interface into that interface's protection.
 *
 * @module
 */

/** One WireGuard peer as a configurator's files set it up. */
export interface ConfiguredPeer {
  /** The interface the files configure (networkd `Name=`, a netplan tunnel's id, NM `interface-name`). */
  iface: string;
  publicKey: string;
  /**
   * `file:line` of the setting that gives this side an endpoint to dial for
   * the peer (site-to-site), or `null` when the files set no endpoint.
   */
  endpointAt: string | null;
  /** `file:line` of the peer's section, e.g. its `[WireGuardPeer]` header. */
  at: string;
}
