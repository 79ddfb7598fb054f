/**
 * `npm run bench -- <name>`: runs one benchmark (bench/<name>.ts exports `run(args)`), printing its
 * figures. Benchmarks measure; they never assert timing (that belongs to no test).
 */
const name = process.argv[2];
const known = ["licenses", "autoclaim", "sync"];
if (!name || !known.includes(name)) {
  console.error(`Usage: npm run bench -- <${known.join("|")}> [options]`);
  process.exit(2);
}
const mod = (await import(`./${name}.js`)) as { run(args: string[]): Promise<void> };
await mod.run(process.argv.slice(3));
