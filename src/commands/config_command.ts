/**
 * `wg-reinstate config`: the effective settings and, per interface, the peers
 * that are never purged and why. Reads no WireGuard state.
 *
 * @module
 */
import { ExitCode } from "../common/errors.ts";
import { uciPathFor } from "../config/load.ts";
import { loadConfigured } from "../config/configurators.ts";
import { loadProtection } from "../config/protection.ts";
import { readUci, uciEnabled } from "../config/uci_settings.ts";
import type { Subcommand } from "../cli/subcommand.ts";
import { SETTINGS_OPTIONS } from "../cli/options.ts";
import { saveConfigText } from "../purge/mod.ts";

/** The `config` subcommand. */
export const configCommand: Subcommand = {
  summary: "print the effective settings and protected peers as JSON",
  description: `Prints, as JSON, the effective settings after defaults, the UCI or JSON file
and flags, and for each interface the peers that are never purged and why.
Reads no WireGuard state; with interfaces "all" it lists the WireGuard
interfaces the config files name (UCI, networkd, netplan, NetworkManager).`,
  options: SETTINGS_OPTIONS,
  purges: false,
  async run({ settings, sources, print }) {
    const uci = await uciPathFor(sources);
    const enabled = uci === null ? null : uciEnabled(await readUci(uci), uci);
    const configured = await loadConfigured(settings);
    const names = settings.interfaces === "all"
      ? [
        ...new Set([
          ...(configured.network?.interfaces ?? []),
          ...configured.peers.map((p) => p.peer.iface),
          ...Object.keys(settings.interfaceOverrides),
        ]),
      ]
      : settings.interfaces;
    const interfaces = [];
    for (const name of names) {
      const { policy, protectedPeers } = await loadProtection(settings, name, configured);
      const warnings = [
        ...(policy.saveConfig === null ? [] : [saveConfigText(policy.saveConfig)]),
        ...policy.warnings,
      ];
      interfaces.push({
        name,
        staleAfter: policy.staleAfter,
        protected: protectedPeers,
        ...(warnings.length === 0 ? {} : { warnings }),
      });
    }
    const out = {
      ...(enabled === null ? {} : { enabled }),
      settings,
      interfacesFrom: settings.interfaces === "all"
        ? "all WireGuard interfaces at run time; listed here: those the config files name"
        : "settings",
      interfaces,
    };
    print(JSON.stringify(out, null, 2) + "\n");
    return ExitCode.ok;
  },
};
