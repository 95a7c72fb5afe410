// The layering of src/ as a check that can fail (test/layering.test.ts runs it): each folder may
// import only the folders below it, in this order (README, "Source layout"):
//   cli → extbuild → config → volume → sysroot → image → engines → container → formats → compress → util
// with the exceptions the architecture needs listed in the rules themselves.
const ABOVE_FORMATS = '^src/(cli|extbuild|config|volume|image|engines|container)/';
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'formats-stay-low',
      comment: 'The on-disk formats take an entry list and plain options; they never reach up into the engines, configuration, pipeline or CLI.',
      severity: 'error',
      from: { path: '^src/formats/' },
      to: { path: ABOVE_FORMATS },
    },
    {
      name: 'compress-stays-lowest',
      comment: 'Codecs compress bytes: they know nothing of formats, sysroots or anything above.',
      severity: 'error',
      from: { path: '^src/compress/' },
      to: { path: `${ABOVE_FORMATS}|^src/(formats|sysroot)/` },
    },
    {
      name: 'util-is-a-leaf',
      comment: 'src/util is used by every layer and uses none of them.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'only-cli-imports-cli',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-circular',
      comment: 'Cycles through type-only imports are allowed (the commands name the CLI context they are given).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
