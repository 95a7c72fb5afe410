/**
 * The JSON Schema of avocado.yaml for editors (yaml-language-server and the like), generated from
 * the zod schemas the CLI validates with (src/config/schema.ts). The generator adds what zod
 * cannot express as JSON Schema — the value lists its custom checks enforce (filesystem, engine,
 * erofs_cluster_size, semver) — and the structure the CLI applies around the schemas: every
 * `extensions.<name>` and `target-<name>` block is an extension, and any string may be a
 * `{{ ... }}` template (interpolated before validation). Unknown keys stay allowed, as the CLI
 * accepts them (it warns about keys the Avocado CLI does not know, which JSON Schema cannot).
 */
import * as z from 'zod/mini';
import { ENGINE_NAMES } from '../src/engines/engine.js';
import { EROFS_CLUSTER_SIZE, FILESYSTEMS } from '../src/formats/filesystems.js';
import { KNOWN_EXTENSION_KEYS, KNOWN_TOP_LEVEL_KEYS } from '../src/config/known-keys.js';
import { EXTENSION_TYPES, extensionSchema, projectSchema } from '../src/config/schema.js';

type JsonSchema = Record<string, unknown>;

/** A string holding a `{{ env.X }}`, `{{ config.a.b }}` or `{{ avocado.target }}` template. */
const TEMPLATE: JsonSchema = { type: 'string', pattern: '\\{\\{.*\\}\\}', description: 'a {{ ... }} template, interpolated before validation' };

/** Strict SemVer 2.0 (MAJOR.MINOR.PATCH[-pre-release][+build]), what `isSemver` accepts. */
const SEMVER =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)' +
  '(-((0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*))*))?' +
  '(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$';

const orTemplate = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, TEMPLATE] });

const clusterSizes: number[] = [];
for (let n = EROFS_CLUSTER_SIZE.default; n <= EROFS_CLUSTER_SIZE.max; n *= 2) clusterSizes.push(n);

const filesystemList = FILESYSTEMS.map((f) => `${f.value}: ${f.description}`).join('; ');

/** What the zod schemas check in code, as JSON Schema, keyed by the zod node that checks it. */
/** The schema inside an optional one. */
const inner = (schema: z.ZodMiniOptional): z.ZodMiniType => schema.def.innerType as z.ZodMiniType;

const REFINED = new Map<z.ZodMiniType, JsonSchema>([
  [
    extensionSchema.shape.version,
    {
      description: 'the extension version, a quoted semver string such as "1.0.0" (required to image the extension)',
      anyOf: [{ type: 'string', pattern: SEMVER }, TEMPLATE],
    },
  ],
  [
    inner(extensionSchema.shape.filesystem),
    { description: `image filesystem (default: rootfs.filesystem, else squashfs) — ${filesystemList}`, ...orTemplate({ enum: FILESYSTEMS.map((f) => f.value) }) },
  ],
  [
    inner(extensionSchema.shape.erofs_cluster_size),
    { description: 'compressed EROFS only: physical cluster size in bytes (default 4096; larger: smaller images, needs Linux 5.13)', enum: clusterSizes },
  ],
  [inner(projectSchema.shape.engine), { description: `what writes the image (default native; --engine and AVOCADO_ENGINE win)`, ...orTemplate({ enum: [...ENGINE_NAMES] }) }],
  [
    inner(projectSchema.shape.source_date_epoch),
    {
      description: 'every time stored in the image, in seconds since 1970 (default 0)',
      anyOf: [{ type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 }, { type: 'string', pattern: '^\\s*\\d+\\s*$' }, TEMPLATE],
    },
  ],
]);

/** Hover text for the keys the CLI reads. */
const EXTENSION_DOCS: Record<string, string> = {
  types: `image types: ${EXTENSION_TYPES.join(', ')} (default both)`,
  var_files: 'globs of paths kept out of the image (a runtime build seeds /var with them)',
  overlay: 'directory copied into the sysroot by ext build: a path, or {dir, mode: merge|opaque}',
  enable_services: 'systemd units that ext build enables (.wants links) and names in AVOCADO_ENABLE_SERVICES',
  modprobe: 'kernel modules loaded on merge',
  on_merge: 'commands run when the extension is merged (AVOCADO_ON_MERGE)',
  on_unmerge: 'commands run when the extension is unmerged',
  reload_service_manager: 'EXTENSION_RELOAD_MANAGER in the release file',
  scopes: 'SYSEXT_SCOPE / CONFEXT_SCOPE (default [system])',
  sysext_scopes: 'SYSEXT_SCOPE, overriding scopes',
  confext_scopes: 'CONFEXT_SCOPE, overriding scopes',
};
const PROJECT_DOCS: Record<string, string> = {
  default_target: 'target used when neither --target nor AVOCADO_TARGET is given',
  supported_targets: 'targets this project builds for ("*" or a list)',
  src_dir: 'directory that overlay paths are relative to (default: the directory of avocado.yaml)',
  rootfs: 'rootfs.filesystem is the default filesystem of every extension',
  extensions: 'the extensions, by name; target-<name>: blocks inside one are merged over it for that target',
};
const OTHER_CLI_KEY = 'a key of the Avocado CLI, accepted and not used by avocado ext image / ext build';

function toJson(schema: z.ZodMiniType, docs: Record<string, string>, otherKeys: Iterable<string>): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const refined = REFINED.get(zodSchema as unknown as z.ZodMiniType);
      if (!refined) return;
      for (const key of Object.keys(jsonSchema)) delete (jsonSchema as JsonSchema)[key];
      Object.assign(jsonSchema, refined);
    },
  }) as JsonSchema;
  delete json.$schema;
  // A missing version is an error only for the extension being imaged, not for the file.
  delete json.required;
  const properties = json.properties as Record<string, JsonSchema>;
  for (const [key, text] of Object.entries(docs)) if (properties[key]) properties[key] = { description: text, ...properties[key] };
  for (const key of [...otherKeys].sort()) properties[key] ??= { description: OTHER_CLI_KEY };
  return json;
}

export function avocadoJsonSchema(): JsonSchema {
  const extension = toJson(extensionSchema, EXTENSION_DOCS, KNOWN_EXTENSION_KEYS);
  (extension.properties as Record<string, JsonSchema>).types!.uniqueItems = true;
  extension.patternProperties = {
    '^target-': { description: 'settings merged over this extension when building for that target', $ref: '#/definitions/extension' },
  };
  const project = toJson(projectSchema, PROJECT_DOCS, KNOWN_TOP_LEVEL_KEYS);
  const properties = project.properties as Record<string, JsonSchema>;
  properties.extensions = { description: PROJECT_DOCS.extensions, type: 'object', additionalProperties: { $ref: '#/definitions/extension' } };
  // Read by the container engine (src/engines/container.ts), not by the zod schema.
  properties.sdk = {
    description: 'the Avocado SDK container (used by --engine container)',
    type: 'object',
    properties: {
      image: { description: 'SDK container image, e.g. docker.io/avocadolinux/sdk:{{ config.distro.release }}', type: 'string' },
      container_args: { description: 'extra docker/podman run arguments, each split once as a POSIX shell would', anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    },
  };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'avocado.yaml',
    description: 'Avocado Linux project file, as read by avocado ext image and avocado ext build (npm package avocado-ext)',
    ...project,
    definitions: { extension },
  };
}
