/**
 * What may go into an extension-release file and into the sysroot's unit directories: scopes
 * (a word from systemd's fixed set), unit names (systemd's unit-name rules, so a name can never
 * be a path), and free text that must fit on one line of an os-release file.
 */

/** The scopes systemd-sysext/confext match against the host (systemd's extension-util.c). */
export const EXTENSION_SCOPES = ['system', 'initrd', 'portable'] as const;

/** Unit types systemd knows (unit_type_from_string); a unit name ends in one of them. */
const UNIT_SUFFIXES = new Set(['service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope']);

/** systemd's UNIT_NAME_MAX (256) counts the terminating NUL. */
const UNIT_NAME_MAX = 255;

/** Characters of a unit name before its suffix: systemd's VALID_CHARS plus '@' (templates, instances). */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:_.\\@-]+$/;

/**
 * Why `name` is not a unit name as systemd accepts it (unit_name_is_valid: plain, template
 * `foo@.service` or instance `foo@bar.service`), or undefined when it is one.
 */
export function unitNameProblem(name: string): string | undefined {
  if (!name) return 'is empty';
  if (name.length > UNIT_NAME_MAX) return `is longer than ${UNIT_NAME_MAX} characters`;
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || !UNIT_SUFFIXES.has(name.slice(dot + 1)))
    return 'does not end in a unit type such as .service, .socket, .target or .timer';
  const stem = name.slice(0, dot);
  if (!UNIT_NAME_CHARS.test(stem)) return 'holds characters a unit name cannot have: only letters, digits and : _ . \\ @ - may be used';
  if (stem.startsWith('@')) return "starts with '@'";
  return undefined;
}

/**
 * Why `value` cannot be written as one os-release value, or undefined. Quotes, `$`, backslashes
 * and backticks are escaped when written (release.ts); line breaks and other control characters
 * cannot be: a newline would start a new key (`ID=`, `ARCHITECTURE=`), and os-release(5) wants
 * printable UTF-8. A tab is kept.
 */
export function releaseValueProblem(value: string): string | undefined {
  const bad = /[\x00-\x08\x0a-\x1f\x7f]/.exec(value);
  if (!bad) return undefined;
  const c = bad[0].charCodeAt(0);
  const name = c === 0 ? 'a NUL' : c === 0x0a ? 'a newline' : c === 0x0d ? 'a carriage return' : `the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return `holds ${name}, which an extension-release value cannot hold (a newline would start a new key): write it on one line, one list entry per command`;
}

/** A value for a one-line message: JSON-quoted (a newline shows as \n), long ones shortened. */
export function shownValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
