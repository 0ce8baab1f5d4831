/**
 * Every command-line option: one per setting, derived from the settings
 * registry (../config/settings_registry.ts), and the few that name files or
 * ask for output. A subcommand lists the options it uses by name; the parser
 * accepts those alone and `--help` lists those alone.
 *
 * @module
 */
import { UCI_CONFIG_PATH } from "../common/paths.ts";
import {
  helpOf,
  type NumberBounds,
  type OptionGroup,
  SETTING_NAMES,
  type SettingFlag,
  type SettingName,
  settingSpec,
} from "../config/settings_registry.ts";

/** One option of the command line. */
export interface OptionSpec {
  /** The one-letter form, without `-`. */
  short?: string;
  /** What its value is called in the help, e.g. `S`; absent for a switch. */
  value?: string;
  /** May be given more than once; every value is kept. */
  multiple?: boolean;
  /** The setting it sets; absent for options that name files or ask for output. */
  field?: SettingName;
  /** The help text; each `\n` starts a line of its own. */
  help: string;
}

/** An option that sets no setting. */
interface OtherOption extends OptionSpec {
  /** Which commands take it (see {@link OptionGroup}); null: those that name it. */
  group: OptionGroup | null;
  /** `--help` lists it just before this setting's flag; without one, last. */
  before?: SettingName;
}

/** The options that set no setting. */
const OTHER_OPTIONS = {
  config: {
    value: "FILE",
    group: "settings",
    before: "networkConfig",
    help: "JSON settings file (flags override it)",
  },
  uci: {
    value: "FILE",
    group: "settings",
    before: "networkConfig",
    help: `UCI settings file (default on OpenWrt: ${UCI_CONFIG_PATH}\n` +
      "when it exists and --config is not given)",
  },
  json: {
    group: null,
    before: "logLevel",
    help: "print the result as JSON on stdout; log lines all go to stderr",
  },
  "peer-times": {
    group: null,
    before: "logLevel",
    help: "print each peer's idle or handshake time too (never logged\n" +
      "or written to a file)",
  },
  help: { short: "h", group: null, help: "this help" },
} as const satisfies Record<string, OtherOption>;

/** The name of an option: its long flag without `--`. */
export type OptionName = SettingFlag | keyof typeof OTHER_OPTIONS;

/** The option of a setting. */
function settingOption(field: SettingName): OptionSpec {
  const spec = settingSpec(field);
  const multiple = spec.type.kind === "interfaces" || spec.type.kind === "keys";
  return {
    ...(spec.short === undefined ? {} : { short: spec.short }),
    ...(spec.value === undefined ? {} : { value: spec.value }),
    ...(multiple ? { multiple } : {}),
    field,
    help: helpOf(field),
  };
}

/** Every option with its group, in the order `--help` lists them. */
function buildOptions(): [OptionName, OptionSpec, OptionGroup | null][] {
  const others = Object.entries(OTHER_OPTIONS) as [keyof typeof OTHER_OPTIONS, OtherOption][];
  const othersBefore = (field?: SettingName) =>
    others.filter(([, o]) => o.before === field).map((
      [name, { group, before: _, ...option }],
    ): [OptionName, OptionSpec, OptionGroup | null] => [name, option, group]);
  return [
    ...SETTING_NAMES.flatMap((field): [OptionName, OptionSpec, OptionGroup | null][] => [
      ...othersBefore(field),
      [settingSpec(field).flag as SettingFlag, settingOption(field), settingSpec(field).group],
    ]),
    ...othersBefore(undefined),
  ];
}

const TABLE = buildOptions();

/** Every option, in the order `--help` lists them. */
export const OPTIONS: Readonly<Record<OptionName, OptionSpec>> = Object.freeze(
  Object.fromEntries(TABLE.map(([name, spec]) => [name, spec])) as Record<OptionName, OptionSpec>,
);

const inGroup = (group: OptionGroup): readonly OptionName[] =>
  TABLE.filter(([, , g]) => g === group).map(([name]) => name);

/** The options of every command that reads settings: their sources, logging and protection. */
export const SETTINGS_OPTIONS: readonly OptionName[] = inGroup("settings");

/** The options of the commands that read WireGuard. */
export const WG_OPTIONS: readonly OptionName[] = inGroup("wg");

/** The options of the commands that purge: the files a cycle writes, and how it calls wg set. */
export const PURGE_OPTIONS: readonly OptionName[] = inGroup("purge");

/** The option that sets `field`, or undefined. */
export function optionFor(field: string): OptionName | undefined {
  return TABLE.find(([, spec]) => spec.field === field)?.[0];
}

/** The numeric range of an option, or undefined when it takes no number. */
export function boundsOf(name: OptionName): NumberBounds | undefined {
  const field = OPTIONS[name].field;
  const type = field === undefined ? undefined : settingSpec(field).type;
  return type?.kind === "number" ? type.bounds : undefined;
}

/** The help lines of `names` and `--help`, in the order of {@link OPTIONS}. */
export function optionsHelp(names: readonly OptionName[]): string {
  const listed = (Object.keys(OPTIONS) as OptionName[]).filter((o) =>
    o === "help" || names.includes(o)
  );
  return listed.map((name) => {
    const spec: OptionSpec = OPTIONS[name];
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}` +
      (spec.value === undefined ? "" : ` ${spec.value}`);
    const [first, ...more] = spec.help.split("\n");
    const head = flag.length > 24
      ? `  ${flag}\n${" ".repeat(28)}${first}`
      : `  ${flag.padEnd(26)}${first}`;
    return [head, ...more.map((line) => " ".repeat(28) + line)].join("\n");
  }).join("\n");
}
