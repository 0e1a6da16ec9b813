//! The vocabulary of the generated descriptors (`crate::generated`), and the `clap` tree
//! built from them: one subcommand per endpoint, one flag per request field, with the
//! document's wording and the English gloss as help.

use clap::{Arg, ArgAction, Command as Clap};

/// How a flag's text becomes the field's JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sent as a JSON string (dates and comma-joined lists are checked by the request).
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false`. (No UMP request has a boolean field; the generator emits it for
    /// any spec that does.)
    #[allow(dead_code)]
    Bool,
    /// An exact decimal of yuan, at most two decimals; never through a float.
    Yuan,
    /// JSON (a list or an object, also for fields sent as JSON inside a string).
    Json,
    /// A Beijing date and time, exactly `yyyy-MM-dd HH:mm:ss` as the help says (a bare
    /// date, a `T` or an offset would be read by the request's tolerant decoding as
    /// midnight or converted: silently not what the operator meant).
    DateTime,
    /// A Beijing date, exactly `yyyy-MM-dd`.
    Date,
    /// Milliseconds since 1970, or a Beijing date and time `yyyy-MM-dd HH:mm:ss` turned
    /// into them (as the document's own examples give these fields).
    Millis,
}

/// One request field.
#[derive(Debug)]
pub struct Field {
    /// The `clap` id (the wire name).
    pub id: &'static str,
    /// The long flag (`--open-id`).
    pub flag: &'static str,
    pub wire: &'static str,
    pub kind: Kind,
    /// The type as help shows it.
    pub ty: &'static str,
    pub required: bool,
    /// Personal data or a secret: never echoed back in errors.
    pub sensitive: bool,
    /// For a sensitive field, the flag (and `clap` id) that reads its value from a file
    /// or stdin (`phone-file`), since a flag's value is visible to every user of the host.
    pub file_flag: Option<&'static str>,
    pub doc: &'static str,
    pub gloss: &'static str,
    pub example: Option<&'static str>,
    /// An enumeration's (value, name, document's wording).
    pub values: &'static [(i64, &'static str, &'static str)],
}

/// One endpoint's subcommand.
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    pub section: &'static str,
    pub title: &'static str,
    pub gloss: &'static str,
    pub method: &'static str,
    /// `read`, `keyed` or `unsafe`, as the spec says.
    pub idempotency: &'static str,
    pub paged: bool,
    pub fields: &'static [Field],
}

/// One group of endpoints (`members`, `points`…).
#[derive(Debug)]
pub struct Group {
    pub name: &'static str,
    pub about: &'static str,
    pub commands: &'static [&'static Command],
}

/// The flags every paged command has beside its fields.
pub const ALL: &str = "all";
/// See [`ALL`].
pub const MAX_PAGES: &str = "max-pages";
/// The flag of keyed writes: settle a write sent before whose outcome is unknown.
pub const RESUME: &str = "resume";

/// The subcommand of one endpoint.
pub fn command(c: &'static Command) -> Clap {
    let what = match c.idempotency {
        "read" => "Reads only: safe to repeat.",
        "keyed" => {
            "A write with an idempotency key: repeat it only with the same key. If an attempt's \
             outcome was unknown, run it again with the same key and --resume."
        }
        _ => {
            "A write the platform may apply twice if repeated: never repeat it after an \
             outcome-unknown exit (4) without checking first."
        }
    };
    let mut cmd = Clap::new(c.name)
        .about(format!("{} {} — {}", c.section, c.title, c.gloss))
        .long_about(format!(
            "{} {} — {}\n\nMethod {}. {what}",
            c.section, c.title, c.gloss, c.method
        ));
    for f in c.fields {
        cmd = cmd.arg(field(f));
        if let Some(file) = f.file_flag {
            cmd = cmd.arg(file_arg(f, file));
        }
    }
    if c.paged {
        cmd = cmd
            .arg(
                Arg::new(ALL)
                    .long(ALL)
                    .action(ArgAction::SetTrue)
                    .help("Every page, from the page asked for on (one JSON array, or one line per item with --jsonl)"),
            )
            .arg(
                Arg::new(MAX_PAGES)
                    .long(MAX_PAGES)
                    .value_name("N")
                    .value_parser(clap::value_parser!(u32).range(1..))
                    .help("With --all: stop after N pages (default 10000)"),
            );
    }
    if c.idempotency == "keyed" {
        cmd = cmd.arg(
            Arg::new(RESUME)
                .long(RESUME)
                .action(ArgAction::SetTrue)
                .help("This write was sent before and its outcome is unknown: settle it under the same key"),
        );
    }
    cmd
}

/// The spec's example of a flag, when the flag takes it: some of the document's examples
/// are prose (`0是全部, 1是收入, 2是支出`) or invalid JSON, and an example that fails
/// teaches the wrong thing.
fn shown_example(f: &Field) -> Option<&'static str> {
    f.example.filter(|x| crate::input::value(f, x).is_ok())
}

fn field(f: &'static Field) -> Arg {
    let mut long = format!("{}\n{}\n\n[{}]", f.doc, f.gloss, f.ty);
    if !f.values.is_empty() {
        long.push_str("\nGive the code, the name or the label:");
    }
    for (value, name, doc) in f.values {
        long.push_str(&format!("\n  {value}: {name} ({doc})"));
    }
    if let Some(x) = shown_example(f) {
        long.push_str(&format!("\nExample: {x}"));
    }
    let value_name = match f.kind {
        Kind::Text => "TEXT",
        Kind::Integer if !f.values.is_empty() => "VALUE",
        Kind::Integer => "N",
        Kind::Bool => "BOOL",
        Kind::Yuan => "YUAN",
        Kind::Json => "JSON",
        Kind::DateTime => "DATETIME",
        Kind::Date => "DATE",
        Kind::Millis => "MS|DATETIME",
    };
    let arg = Arg::new(f.id).long(f.flag).value_name(value_name);
    match f.file_flag {
        Some(file) => arg
            .required(false)
            .required_unless_present_any(if f.required { vec![file] } else { vec![] })
            .conflicts_with(file)
            .help(format!(
                "{} — {} (personal data: prefer --{file}, which keeps it off the command line)",
                f.doc, f.gloss
            ))
            .long_help(format!(
                "{long}\n\nPersonal data: given here, the value is visible to every user of this \
                 host (ps, /proc/PID/cmdline) and may stay in the shell's history; --{file} \
                 reads it from a file or stdin instead."
            )),
        None => arg
            .required(f.required)
            .help(format!("{} — {}", f.doc, f.gloss))
            .long_help(long),
    }
}

/// The flag reading a sensitive field's value from a file, `-` for stdin.
fn file_arg(f: &'static Field, file: &'static str) -> Arg {
    Arg::new(file)
        .long(file)
        .value_name("PATH")
        .help(format!(
            "--{} read from the file PATH (`-`: stdin), kept off the command line, which every \
             user of this host can read (/proc/PID/cmdline)",
            f.flag
        ))
        .long_help(format!(
            "The value of --{} read from the file PATH, or from stdin when PATH is `-` (one \
             trailing newline is dropped).\n\nA flag's value is visible to every user of this \
             host (ps, /proc/PID/cmdline) and may stay in the shell's history: personal data \
             and secrets belong in a file readable only by you, or on stdin \
             (`printf %s \"$PHONE\" | ump … --{} -`).",
            f.flag, file
        ))
}

/// Every group's subcommand, each with its endpoints'.
pub fn groups(groups: &'static [Group]) -> impl Iterator<Item = Clap> {
    groups.iter().map(|g| {
        g.commands.iter().fold(
            Clap::new(g.name)
                .about(g.about)
                .subcommand_required(true)
                .arg_required_else_help(true),
            |group, c| group.subcommand(command(c)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example a command's help shows is a value its flag takes, and every field
    /// with an example shows one: where the document's example is prose or invalid JSON,
    /// the spec gives a `usable_example`, which the help shows instead.
    #[test]
    fn every_example_in_the_help_is_valid_for_its_flag() {
        let (mut shown, mut hidden) = (0, Vec::new());
        for group in crate::generated::GROUPS {
            for c in group.commands {
                let cmd = command(c);
                for f in c.fields {
                    let arg = cmd
                        .get_arguments()
                        .find(|a| a.get_long() == Some(f.flag))
                        .expect("the flag");
                    let help = arg.get_long_help().or(arg.get_help()).unwrap().to_string();
                    let Some(line) = help.lines().find_map(|l| l.strip_prefix("Example: ")) else {
                        if let Some(x) = f.example {
                            hidden.push(format!("{} --{} {x}", c.name, f.flag));
                        }
                        continue;
                    };
                    crate::input::value(f, line).unwrap_or_else(|e| {
                        panic!("{} --{} {line}: {}", c.name, f.flag, e.message)
                    });
                    shown += 1;
                }
            }
        }
        assert!(shown >= 50, "examples shown: {shown}");
        assert!(
            hidden.is_empty(),
            "examples invalid for their flags, hidden from the help (give the field a \
             `usable_example` in the spec): {hidden:#?}"
        );
    }

    /// Every personal or secret field of every command can be read from a file or stdin
    /// (`--phone-file -`), and its help says why: a flag's value is visible to every user
    /// of the host (`/proc/PID/cmdline`, `ps`). Given from a file, the value flag is not
    /// required; given both ways, the command is refused.
    #[test]
    fn every_sensitive_flag_also_reads_a_file_or_stdin() {
        let mut checked = 0;
        for group in crate::generated::GROUPS {
            for c in group.commands {
                let cmd = command(c);
                let required: Vec<&Field> = c.fields.iter().filter(|f| f.required).collect();
                let mut args: Vec<String> = vec![c.name.to_string()];
                for f in &required {
                    args.push(format!("--{}", f.flag));
                    args.push("1".into());
                }
                for f in c.fields.iter().filter(|f| f.sensitive) {
                    let file = format!("{}-file", f.flag);
                    let arg = cmd
                        .get_arguments()
                        .find(|a| a.get_long() == Some(file.as_str()))
                        .unwrap_or_else(|| panic!("{} has no --{file}", c.method));
                    let help = arg.get_long_help().or(arg.get_help()).unwrap().to_string();
                    assert!(help.contains("/proc"), "--{file}: {help}");
                    let value = cmd
                        .get_arguments()
                        .find(|a| a.get_long() == Some(f.flag))
                        .unwrap();
                    let help = value.get_help().unwrap().to_string();
                    assert!(help.contains(&format!("--{file}")), "--{}: {help}", f.flag);
                    checked += 1;
                }
                // Every required sensitive value from a file instead of its flag.
                let mut from_files: Vec<String> = vec![c.name.to_string()];
                for f in &required {
                    if f.sensitive {
                        from_files.push(format!("--{}-file", f.flag));
                        from_files.push("/dev/null".into());
                    } else {
                        from_files.push(format!("--{}", f.flag));
                        from_files.push("1".into());
                    }
                }
                cmd.clone()
                    .try_get_matches_from(&from_files)
                    .unwrap_or_else(|e| panic!("{from_files:?}: {e}"));
                if let Some(f) = c.fields.iter().find(|f| f.sensitive) {
                    let mut both = args.clone();
                    both.extend([format!("--{}", f.flag), "x".into()]);
                    both.extend([format!("--{}-file", f.flag), "/dev/null".into()]);
                    assert!(cmd.try_get_matches_from(&both).is_err(), "{both:?}");
                }
            }
        }
        assert!(checked >= 20, "{checked} sensitive flags");
    }
}
