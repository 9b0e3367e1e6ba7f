// `pnpm study`: parses the flags, runs the BatchNorm-placement study and prints where the results went.
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatPercentSpread } from "./markdown-report.ts";
import { parseStudyArgs, STUDY_USAGE, StudyArgsError } from "./parse-study-args.ts";
import { DeviceUnavailableError } from "./prepare-device.ts";
import { runStudy } from "./run-study.ts";

function formatDuration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes} min ${Math.round(seconds - minutes * 60)} s` : `${seconds.toFixed(1)} s`;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseStudyArgs>;
  try {
    parsed = parseStudyArgs(process.argv.slice(2), {
      // pnpm runs the script in this package's folder; INIT_CWD is where the user typed the command.
      cwd: process.env.INIT_CWD ?? process.cwd(),
      defaultOutDir: fileURLToPath(new URL("../results", import.meta.url)),
    });
  } catch (error) {
    if (!(error instanceof StudyArgsError)) throw error;
    process.stderr.write(`${error.message}\n\n${STUDY_USAGE}`);
    return 2;
  }
  if (parsed.command === "help") {
    process.stdout.write(STUDY_USAGE);
    return 0;
  }
  let output: Awaited<ReturnType<typeof runStudy>>;
  try {
    output = await runStudy(parsed.config);
  } catch (error) {
    if (!(error instanceof DeviceUnavailableError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const { result, files } = output;
  const lines = ["", "Final test accuracy (%), mean ± std over seeds:"];
  for (const summary of result.summaries) {
    lines.push(
      `  ${summary.model} ${summary.variant.padEnd(8)} ${formatPercentSpread(summary.finalTestAccuracy)}`,
    );
  }
  for (const comparison of result.comparisons) lines.push(`  ${comparison.model}: ${comparison.verdict}`);
  const cwd = process.env.INIT_CWD ?? process.cwd();
  lines.push("", "Wrote:", ...files.map((file) => `  ${relative(cwd, file)}`));
  const { workers } = result.environment;
  lines.push(
    "",
    `Total time: ${formatDuration(result.totalSeconds)} (CPU time ${formatDuration(result.cpuSeconds.total)}, of which ` +
      `training ${formatDuration(result.cpuSeconds.training)}; on ${workers} idle core(s) at best about ` +
      `${formatDuration(result.cpuSeconds.total / workers)})`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

process.exitCode = await main();
