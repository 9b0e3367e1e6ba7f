// @normgrad/example-cli: the command line every example shares (--help, a passed-through `--`, usage on a bad flag).
export {
  COMMON_OPTIONS,
  type CommandLineOutcome,
  integerFlag,
  numberFlag,
  parseCommandLine,
  runCommandLine,
} from "./parse-command-line.ts";
