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

fn field(f: &'static Field) -> Arg {
    let mut long = format!("{}\n{}\n\n[{}]", f.doc, f.gloss, f.ty);
    for (value, name, doc) in f.values {
        long.push_str(&format!("\n  {value}: {name} ({doc})"));
    }
    if let Some(x) = f.example {
        long.push_str(&format!("\nExample: {x}"));
    }
    let value_name = match f.kind {
        Kind::Text => "TEXT",
        Kind::Integer => "N",
        Kind::Bool => "BOOL",
        Kind::Yuan => "YUAN",
        Kind::Json => "JSON",
    };
    Arg::new(f.id)
        .long(f.flag)
        .value_name(value_name)
        .required(f.required)
        .help(format!("{} — {}", f.doc, f.gloss))
        .long_help(long)
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
