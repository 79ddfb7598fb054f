// Imported by the Functions host when the autoclaim benchmark runs with --cpu-profile
// (NODE_OPTIONS=--import ...): samples the host's JavaScript thread from start-up. Each SIGUSR2
// writes the samples since the previous one to `${BENCH_CPU_PROFILE_FILE}.<n>` and starts again,
// so the benchmark can cut out the phase it measures.
import { renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import process from "node:process";

const file = process.env.BENCH_CPU_PROFILE_FILE;
if (file) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  let n = 0;
  process.on("SIGUSR2", () => {
    void (async () => {
      const part = `${file}.${n++}`;
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(`${part}.tmp`, JSON.stringify(profile));
      renameSync(`${part}.tmp`, part); // whole, or not there yet
      await session.post("Profiler.start");
    })();
  });
}
