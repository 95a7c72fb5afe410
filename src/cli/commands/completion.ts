/**
 * `avocado completion bash|zsh|fish`: scripts generated from the command tree in program.ts.
 *
 * Each script knows, for every command path (`ext image`, …), its subcommands, its options
 * (and which take a value) and its positional argument, so it can tell subcommands from option
 * values on the line typed so far. Values come from OPTION_VALUES / ARGUMENT_VALUES and
 * commander's choices: fixed words, file or directory names, or what the nearest avocado.yaml
 * names (extensions, targets, runtimes), asked of the hidden `avocado __complete KIND
 * [--config FILE]` with the -C/--config already typed. Everything else completes to nothing:
 * never file names where a name is expected.
 */
import { Help, type Command, type Option } from 'commander';
import type { CommandContext } from '../main.js';
import { ARGUMENT_VALUES, OPTION_VALUES, type CompletionValues } from '../program.js';

export interface Word {
  readonly value: string;
  readonly description?: string;
}

export type ValueSpec =
  | { readonly kind: 'words'; readonly words: readonly Word[] }
  | { readonly kind: 'project'; readonly what: 'extensions' | 'targets' | 'runtimes' }
  | { readonly kind: 'files' }
  | { readonly kind: 'dirs' }
  | { readonly kind: 'none' };

export interface OptionSpec {
  readonly flags: readonly string[];
  readonly description: string;
  /** Undefined for a flag that takes no value. */
  readonly value?: ValueSpec;
}

export interface CommandSpec {
  /** Words after `avocado`, e.g. ['ext', 'image']. */
  readonly path: readonly string[];
  readonly subcommands: readonly Word[];
  readonly options: readonly OptionSpec[];
  /** The first positional argument, if the command takes one. */
  readonly positional?: ValueSpec;
  /** It may be given several times (`NAME...`). */
  readonly repeats?: boolean;
}

/** The options whose value is the avocado.yaml to read names from. */
const CONFIG_FLAGS = ['-C', '--config'];

function valueSpec(values: CompletionValues | undefined, choices: readonly string[] | undefined): ValueSpec {
  if (values === undefined) return choices ? { kind: 'words', words: choices.map((value) => ({ value })) } : { kind: 'none' };
  if (values === 'files' || values === 'dirs') return { kind: values };
  if (typeof values === 'string') return { kind: 'project', what: values };
  return { kind: 'words', words: values.map((v) => (typeof v === 'string' ? { value: v } : v)) };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function commandSpecs(program: Command): CommandSpec[] {
  const help = new Help();
  const option = (o: Option): OptionSpec => ({
    flags: [o.short, o.long].filter((f): f is string => !!f),
    description: oneLine(o.description),
    ...(o.required || o.optional ? { value: valueSpec(OPTION_VALUES[o.long ?? ''], o.argChoices) } : {}),
  });
  // Options of the program (--volume, --no-color) are accepted after every subcommand too.
  const globals = help.visibleOptions(program).filter((o) => o.long !== '--help' && o.long !== '--version');
  const specs: CommandSpec[] = [];
  const visit = (cmd: Command, path: string[]) => {
    const arg = cmd.registeredArguments[0];
    specs.push({
      path,
      subcommands: help.visibleCommands(cmd).map((c) => ({ value: c.name(), description: oneLine(c.description()) })),
      options: [...help.visibleOptions(cmd), ...(path.length ? globals : [])].map(option),
      ...(arg ? { positional: valueSpec(ARGUMENT_VALUES[arg.name()], arg.argChoices), repeats: arg.variadic } : {}),
    });
    for (const sub of help.visibleCommands(cmd)) {
      const real = cmd.commands.find((c) => c.name() === sub.name());
      if (real) visit(real, [...path, sub.name()]);
      else specs.push({ path: [...path, sub.name()], subcommands: [], options: [] }); // the implicit help command
    }
  };
  visit(program, []);
  return specs;
}

// ---------------------------------------------------------------------------------------------
// bash

/** One bash word for a value spec: `w:a b c`, `p:extensions`, `f`, `d`, `n`. */
function bashKind(v: ValueSpec | undefined): string {
  if (!v) return '-';
  switch (v.kind) {
    case 'words':
      return `w:${v.words.map((w) => w.value).join(' ')}`;
    case 'project':
      return `p:${v.what}`;
    case 'files':
      return 'f';
    case 'dirs':
      return 'd';
    case 'none':
      return 'n';
  }
}

const bq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(specs: CommandSpec[]): string {
  const optCases = specs
    .flatMap((s) => s.options.flatMap((o) => o.flags.map((f) => `    ${bq(`${s.path.join(' ')}|${f}`)}) __avocado_k=${bq(bashKind(o.value))} ;;`)))
    .join('\n');
  const cmdCases = specs
    .map(
      (s) =>
        `    ${bq(s.path.join(' '))}) __avocado_subs=${bq(s.subcommands.map((c) => c.value).join(' '))} __avocado_options=${bq(s.options.flatMap((o) => o.flags).join(' '))} __avocado_pos=${bq(s.positional ? bashKind(s.positional) : '')} __avocado_many=${s.repeats ? 1 : 0} ;;`,
    )
    .join('\n');
  return `# bash completion for avocado (generated by 'avocado completion bash')
# What a value takes (sets __avocado_k): - flag, n nothing, f files, d directories,
# w:WORDS, p:KIND (avocado __complete KIND); empty: not an option of that command.
__avocado_opt() {
  case "$1|$2" in
${optCases}
    *) __avocado_k= ;;
  esac
}

__avocado_cmd() {
  case "$1" in
${cmdCases}
    *) __avocado_subs= __avocado_options= __avocado_pos= __avocado_many=0 ;;
  esac
}

__avocado_values() {
  local pre="$2" c
  local -a found=()
  case "$1" in
    w:*) found=($(compgen -W "\${1#w:}" -- "$cur")) ;;
    p:*) found=($(compgen -W "$("\${COMP_WORDS[0]}" __complete "\${1#p:}" \${config:+--config "$config"} 2>/dev/null)" -- "$cur")) ;;
    f) compopt -o filenames 2>/dev/null; found=($(compgen -f -- "$cur")) ;;
    d) compopt -o filenames 2>/dev/null; found=($(compgen -d -- "$cur")) ;;
  esac
  for c in "\${found[@]}"; do COMPREPLY+=("$pre$c"); done
}

_avocado() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cpath="" config="" expect="" pre="" w i npos=0
  local __avocado_k __avocado_subs __avocado_options __avocado_pos __avocado_many
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == = ]] && continue
    if [[ -n $expect ]]; then
      case "$expect" in ${CONFIG_FLAGS.join('|')}) config="$w" ;; esac
      expect=""
      continue
    fi
    if [[ $w == -?* ]]; then
      if [[ $w == --*=* ]]; then
        [[ \${w%%=*} == --config ]] && config="\${w#*=}"
        continue
      fi
      __avocado_opt "$cpath" "$w"
      [[ -n $__avocado_k && $__avocado_k != - ]] && expect="$w"
      continue
    fi
    __avocado_cmd "$cpath"
    if [[ " $__avocado_subs " == *" $w "* ]]; then
      cpath="\${cpath:+$cpath }$w"
      npos=0
    else
      npos=$((npos + 1))
    fi
  done
  if [[ -n $expect ]]; then
    [[ $cur == = ]] && cur=""
  elif [[ $cur == --*=* ]]; then
    # COMP_WORDBREAKS without '=': the reply must carry the option.
    expect="\${cur%%=*}" pre="\${cur%%=*}=" cur="\${cur#*=}"
  fi
  if [[ -n $expect ]]; then
    __avocado_opt "$cpath" "$expect"
    __avocado_values "$__avocado_k" "$pre"
    return 0
  fi
  __avocado_cmd "$cpath"
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$__avocado_options" -- "$cur"))
    return 0
  fi
  COMPREPLY=($(compgen -W "$__avocado_subs" -- "$cur"))
  ((npos == 0 || __avocado_many)) && [[ -n $__avocado_pos ]] && __avocado_values "$__avocado_pos" ""
  return 0
}
complete -F _avocado avocado
`;
}

// ---------------------------------------------------------------------------------------------
// zsh

/** `name:description` for _describe, quoted for zsh. */
const zq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const zItem = (w: Word) => zq(`${w.value.replace(/:/g, '\\:')}${w.description ? `:${w.description}` : ''}`);

function zshKind(v: ValueSpec | undefined): string {
  if (!v) return '__avocado_k=-';
  switch (v.kind) {
    case 'words':
      return `__avocado_k=w __avocado_w=(${v.words.map(zItem).join(' ')})`;
    case 'project':
      return `__avocado_k=p:${v.what}`;
    case 'files':
      return '__avocado_k=f';
    case 'dirs':
      return '__avocado_k=d';
    case 'none':
      return '__avocado_k=n';
  }
}

export function zshScript(specs: CommandSpec[]): string {
  const optCases = specs
    .flatMap((s) => s.options.flatMap((o) => o.flags.map((f) => `    ${zq(`${s.path.join(' ')}|${f}`)}) ${zshKind(o.value)} ;;`)))
    .join('\n');
  const cmdCases = specs
    .map((s) => {
      const options = s.options.flatMap((o) => o.flags.map((f) => zItem({ value: f, description: o.description })));
      return `    ${zq(s.path.join(' '))})
      __avocado_subs=(${s.subcommands.map(zItem).join(' ')})
      __avocado_options=(${options.join(' ')})
      ${s.positional ? zshKind(s.positional).replace('__avocado_k=', '__avocado_pos=').replace('__avocado_w=', '__avocado_pw=') : '__avocado_pos='} __avocado_many=${s.repeats ? 1 : 0} ;;`;
    })
    .join('\n');
  return `#compdef avocado
# zsh completion for avocado (generated by 'avocado completion zsh').
# Install: avocado completion zsh > "\${fpath[1]}/_avocado", then start a new shell.

# What a value takes (sets __avocado_k): - flag, n nothing, f files, d directories, w the words
# in __avocado_w, p:KIND (avocado __complete KIND); empty: not an option of that command.
__avocado_opt() {
  __avocado_k=
  case "$1|$2" in
${optCases}
  esac
}

__avocado_cmd() {
  __avocado_subs=() __avocado_options=() __avocado_pos= __avocado_pw=() __avocado_many=0
  case "$1" in
${cmdCases}
  esac
}

# Offers the values of kind $1 (words: the array named $2).
__avocado_values() {
  case "$1" in
    w) _describe -t values 'value' "$2" ;;
    p:*)
      local -a __avocado_found
      __avocado_found=(\${(f)"$(\${words[1]} __complete \${1#p:} \${config:+--config} \${config:+$config} 2>/dev/null)"})
      compadd -a __avocado_found ;;
    f) _files ;;
    d) _files -/ ;;
    n) _message 'value' ;;
  esac
}

_avocado() {
  local cur=\${words[CURRENT]} cpath= config= expect= w i npos=0
  local __avocado_k __avocado_pos __avocado_many
  local -a __avocado_w __avocado_pw __avocado_subs __avocado_options
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    if [[ -n $expect ]]; then
      [[ $expect == (${CONFIG_FLAGS.join('|')}) ]] && config=$w
      expect=
      continue
    fi
    if [[ $w == -?* ]]; then
      if [[ $w == --*=* ]]; then
        [[ \${w%%=*} == --config ]] && config=\${w#*=}
        continue
      fi
      __avocado_opt "$cpath" "$w"
      [[ -n $__avocado_k && $__avocado_k != - ]] && expect=$w
      continue
    fi
    __avocado_cmd "$cpath"
    if (( \${__avocado_subs[(I)\${w}(|:*)]} )); then
      cpath=\${cpath:+$cpath }$w
      npos=0
    else
      (( npos++ ))
    fi
  done
  if [[ -z $expect && $cur == --*=* ]]; then
    expect=\${cur%%=*}
    compset -P '*='
  fi
  if [[ -n $expect ]]; then
    __avocado_opt "$cpath" "$expect"
    __avocado_values "$__avocado_k" __avocado_w
    return
  fi
  __avocado_cmd "$cpath"
  if [[ $cur == -* ]]; then
    _describe -t options 'option' __avocado_options
    return
  fi
  local ret=1
  (( \${#__avocado_subs} )) && _describe -t commands 'command' __avocado_subs && ret=0
  if (( npos == 0 || __avocado_many )) && [[ -n $__avocado_pos ]]; then
    __avocado_values "$__avocado_pos" __avocado_pw && ret=0
  fi
  return $ret
}

# Autoloaded from $fpath by compinit, this file is the body of _avocado: define, then complete.
# Sourced, it registers itself.
if [[ \${funcstack[1]} == _avocado ]]; then
  _avocado "$@"
else
  compdef _avocado avocado
fi
`;
}

// ---------------------------------------------------------------------------------------------
// fish

const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function fishScript(specs: CommandSpec[]): string {
  const lines: string[] = [];
  const wordFunctions: string[] = [];
  const wordFunction = (words: readonly Word[]) => {
    const name = `__avocado_words_${wordFunctions.length}`;
    const rows = words.map((w) => `    printf '%s\\t%s\\n' ${fq(w.value)} ${fq(w.description ?? '')}`);
    wordFunctions.push(`function ${name}\n${rows.join('\n')}\nend`);
    return name;
  };
  const values = (v: ValueSpec): string => {
    switch (v.kind) {
      case 'words':
        return ` -x -a '(${wordFunction(v.words)})'`;
      case 'project':
        return ` -x -a '(__avocado_project ${v.what})'`;
      case 'files':
        return ' -r -F';
      case 'dirs':
        return " -x -a '(__fish_complete_directories (commandline -ct) \"\")'";
      case 'none':
        return ' -x';
    }
  };
  const takesValue: string[] = [];
  const subcommandOf: string[] = [];
  for (const s of specs) {
    const at = fq(s.path.join(' '));
    for (const c of s.subcommands) {
      lines.push(`complete -c avocado -n "__avocado_at ${at}" -a ${fq(c.value)} -d ${fq(c.description ?? '')}`);
      subcommandOf.push(fq(`${s.path.join(' ')}|${c.value}`));
    }
    for (const o of s.options) {
      const long = o.flags.find((f) => f.startsWith('--'));
      const short = o.flags.find((f) => !f.startsWith('--'));
      let line = `complete -c avocado -n "__avocado_at ${at}"`;
      if (short) line += ` -s ${short.slice(1)}`;
      if (long) line += ` -l ${long.slice(2)}`;
      line += ` -d ${fq(o.description)}`;
      if (o.value) {
        line += values(o.value);
        for (const f of o.flags) takesValue.push(fq(`${s.path.join(' ')}|${f}`));
      }
      lines.push(line);
    }
    if (s.positional && s.positional.kind !== 'none')
      lines.push(`complete -c avocado -n "__avocado_wants_argument ${at}${s.repeats ? ' many' : ''}"${values(s.positional).replace(' -x', ' -f').replace(' -r -F', ' -F')}`);
  }
  return `# fish completion for avocado (generated by 'avocado completion fish')
complete -c avocado -e
complete -c avocado -f

function __avocado_takes_value
    switch "$argv[1]|$argv[2]"
        case ${takesValue.join(' ')}
            return 0
    end
    return 1
end

function __avocado_is_subcommand
    switch "$argv[1]|$argv[2]"
        case ${subcommandOf.join(' ')}
            return 0
    end
    return 1
end

# The command path typed so far (e.g. "ext image"), then the number of positional arguments after it.
function __avocado_state
    set -l tokens (commandline -opc)
    set -l p ''
    set -l npos 0
    set -l expect 0
    for w in $tokens[2..-1]
        if test $expect = 1
            set expect 0
            continue
        end
        switch $w
            case '--*=*'
                continue
            case '-?*'
                __avocado_takes_value "$p" $w; and set expect 1
                continue
        end
        if __avocado_is_subcommand "$p" $w
            set p (string trim -- "$p $w")
            set npos 0
        else
            set npos (math $npos + 1)
        end
    end
    printf '%s\\n' "$p" $npos
end

function __avocado_at
    set -l state (__avocado_state)
    test "$state[1]" = "$argv[1]"
end

function __avocado_wants_argument
    set -l state (__avocado_state)
    test "$state[1]" = "$argv[1]"; and begin; test "$state[2]" = 0; or test "$argv[2]" = many; end
end

# What the nearest avocado.yaml (or the -C/--config typed) names: avocado __complete KIND.
function __avocado_project
    set -l tokens (commandline -opc)
    set -l config
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case ${CONFIG_FLAGS.join(' ')}
                test $i -lt (count $tokens); and set config --config $tokens[(math $i + 1)]
            case '--config=*'
                set config --config (string replace -- '--config=' '' $tokens[$i])
        end
    end
    $tokens[1] __complete $argv[1] $config 2>/dev/null
end

${wordFunctions.join('\n\n')}

${lines.join('\n')}
`;
}

export default async function completion(_ctx: CommandContext, args: unknown[]): Promise<void> {
  const [shell, , cmd] = args as [string, unknown, Command];
  let root = cmd;
  while (root.parent) root = root.parent;
  const specs = commandSpecs(root);
  const script = shell === 'bash' ? bashScript(specs) : shell === 'zsh' ? zshScript(specs) : fishScript(specs);
  process.stdout.write(script);
}
