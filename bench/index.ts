// `npm run bench`: runs every benchmark module in turn; each prints its figures and its ratio to a baseline.
// Add a module with one line below. Modules run at import, so each also runs alone: `node --import tsx bench/<area>.ts`.
await import("./cli.ts");
await import("./score.ts");
await import("./state.ts");
await import("./view.ts");
await import("./run.ts");
await import("./build.ts");
await import("./runtime.ts");
await import("./pool.ts");
await import("./evict.ts");
await import("./pg.ts");
await import("./sweep.ts");
await import("./replicas.ts");
await import("./serve.ts");
await import("./ops.ts");
await import("./traces.ts");
await import("./python.ts");
await import("./scale.ts");
