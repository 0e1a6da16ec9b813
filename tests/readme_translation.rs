//! The Chinese README (`README.zh-CN.md`) must not drift from the English one
//! (`README.md`). A Chinese reader copies commands, flags and code from theirs: a flag
//! renamed, an example changed or a step added in `README.md` but not in the translation
//! would have them run what the project no longer documents, and nothing else would notice
//! (the English README's blocks are compiled as doc tests by `tests/support.rs`; the
//! translation's are not). The prose is translated; the code blocks are copied, never
//! translated, so this test holds that:
//!
//! - every code block of `README.zh-CN.md` is, byte for byte (info string included), a code
//!   block of `README.md` (whose Rust blocks the doc tests compile), so a Chinese reader
//!   copies exactly what the English reader does;
//! - every code block of the sections of `README.md` a user needs ([`REQUIRED_SECTIONS`]:
//!   set-up, usage, tokens, the journal, retries) is in `README.zh-CN.md`, and the blocks
//!   the two files share come in the same order;
//! - each file links to the other.
//!
//! When a block of `README.md` changes, copy the new block into `README.zh-CN.md` and
//! update the Chinese prose around it.

use std::fmt;
use std::path::Path;

/// The `## ` sections of `README.md` whose code blocks the translation must all carry
/// (a section runs to the next `## ` heading, so its `### ` subsections are included).
/// The others (layout, regenerating, versions, benchmarks, fuzzing) are for maintainers,
/// and the translation only summarizes them.
const REQUIRED_SECTIONS: [&str; 5] = [
    "Set-up",
    "Usage",
    "Tokens",
    "Writes at the till: the journal",
    "Retries and the uncertain outcome",
];

const ENGLISH: &str = "README.md";
const CHINESE: &str = "README.zh-CN.md";

/// One fenced code block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// Its position among the file's code blocks, counted from 1.
    number: usize,
    /// The line of its opening fence, counted from 1.
    line: usize,
    /// The opening fence's info string (`rust,no_run`, `sh`), trimmed; empty if none.
    info: String,
    /// The lines between the fences, each ended by `\n` (a `\r\n` ending counts as `\n`,
    /// so a checkout that converts line endings changes nothing).
    body: String,
    /// The `## ` heading the block lies under; `None` before the first one.
    section: Option<String>,
}

impl Block {
    /// What must be byte-identical: the info string and the body. The fence itself (its
    /// indentation, its length, backticks or tildes) is markup, not content.
    fn same_code(&self, other: &Block) -> bool {
        self.info == other.info && self.body == other.body
    }

    fn first_line(&self) -> &str {
        self.body.lines().next().unwrap_or("(empty)")
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "code block #{} (line {}, ```{}, first line `{}`)",
            self.number,
            self.line,
            self.info,
            self.first_line()
        )
    }
}

/// A Markdown file's code blocks and `## ` headings.
struct Parsed {
    blocks: Vec<Block>,
    headings: Vec<String>,
}

/// An opening fence: its character (`` ` `` or `~`) and its length.
#[derive(Clone, Copy)]
struct Fence {
    ch: char,
    len: usize,
}

/// The line without its indentation, if that is at most 3 spaces (CommonMark: 4 make an
/// indented code line, not a fence or heading).
fn unindented(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(' ');
    (line.len() - rest.len() <= 3).then_some(rest)
}

/// An opening fence line: 3 or more backticks (or tildes), then an optional info string.
fn opening_fence(line: &str) -> Option<(Fence, &str)> {
    let rest = unindented(line)?;
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    let info = rest[len..].trim();
    // A backtick in a backtick fence's info string makes the line inline code instead.
    (len >= 3 && !(ch == '`' && info.contains('`'))).then_some((Fence { ch, len }, info))
}

/// The line that closes `fence`: the same character, at least as many, nothing after.
fn closes(line: &str, fence: Fence) -> bool {
    unindented(line).is_some_and(|rest| {
        let len = rest.chars().take_while(|c| *c == fence.ch).count();
        len >= fence.len && rest[len..].trim().is_empty()
    })
}

/// A `## ` heading's title (not `# ` or `### `), without a closing `#` sequence.
fn h2(line: &str) -> Option<String> {
    let title = unindented(line)?.strip_prefix("## ")?;
    Some(title.trim().trim_end_matches('#').trim_end().to_string())
}

/// The code blocks and `## ` headings of `text` (the file `name`); a heading-like line
/// inside a code block is code. An unclosed block is an error: everything after it
/// would render as code.
fn parse(name: &str, text: &str) -> Result<Parsed, String> {
    let mut blocks = Vec::new();
    let mut headings = Vec::new();
    let mut section: Option<String> = None;
    // The block being read: its fence and the block so far.
    let mut open: Option<(Fence, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            Some((fence, block)) => {
                if closes(line, *fence) {
                    blocks.push(open.take().expect("a block is open").1);
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
            None => {
                if let Some((fence, info)) = opening_fence(line) {
                    let block = Block {
                        number: blocks.len() + 1,
                        line: i + 1,
                        info: info.to_string(),
                        body: String::new(),
                        section: section.clone(),
                    };
                    open = Some((fence, block));
                } else if let Some(title) = h2(line) {
                    headings.push(title.clone());
                    section = Some(title);
                }
            }
        }
    }
    match open {
        Some((_, block)) => Err(format!("{name}: {block} is never closed")),
        None => Ok(Parsed { blocks, headings }),
    }
}

/// Whether `text` has a Markdown link to `file` (the file itself or an anchor in it).
fn links_to(text: &str, file: &str) -> bool {
    text.contains(&format!("]({file})")) || text.contains(&format!("]({file}#"))
}

/// A way in which the translation has drifted from the English README.
#[derive(Debug)]
enum Problem {
    /// A file cannot be read as Markdown code blocks (an unclosed fence).
    Unparsable(String),
    /// A required section is not a `## ` heading of the English README (renamed?).
    SectionNotFound(String),
    /// A block of the translation is no block of the English README.
    Changed(Block),
    /// A block of a required section of the English README is not in the translation.
    Missing(Block),
    /// A block of the translation (`block`, the English README's `english`) is not in the
    /// English README's order among the blocks the two share.
    OutOfOrder { block: Block, english: Block },
    /// `from` has no link to `to`.
    NoLink {
        from: &'static str,
        to: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unparsable(e) => write!(f, "{e}"),
            Problem::SectionNotFound(s) => write!(
                f,
                "{ENGLISH} has no `## {s}` section: update REQUIRED_SECTIONS in \
                 tests/readme_translation.rs if it was renamed"
            ),
            Problem::Changed(b) => write!(
                f,
                "{CHINESE} {b} is not byte-identical to any code block of {ENGLISH}: copy the \
                 block from {ENGLISH} again (translate the prose around it, never the block)"
            ),
            Problem::Missing(b) => write!(
                f,
                "{ENGLISH} {b}, in section \"{}\", is missing from {CHINESE}: copy it there, \
                 byte for byte, in the same place among the other blocks",
                b.section.as_deref().unwrap_or("")
            ),
            Problem::OutOfOrder { block, english } => write!(
                f,
                "{CHINESE} {block} is {ENGLISH}'s {english}, out of place: the blocks the two \
                 files share must come in the same order as in {ENGLISH}"
            ),
            Problem::NoLink { from, to } => write!(f, "{from} does not link to {to}"),
        }
    }
}

/// Every way in which `chinese` has drifted from `english`, given the `## ` sections of
/// `english` whose blocks `chinese` must all carry. Empty when there is none.
fn check(english: &str, chinese: &str, required: &[&str]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !links_to(english, CHINESE) {
        problems.push(Problem::NoLink {
            from: ENGLISH,
            to: CHINESE,
        });
    }
    if !links_to(chinese, ENGLISH) {
        problems.push(Problem::NoLink {
            from: CHINESE,
            to: ENGLISH,
        });
    }
    let (en, zh) = match (parse(ENGLISH, english), parse(CHINESE, chinese)) {
        (Ok(en), Ok(zh)) => (en, zh),
        (en, zh) => {
            problems.extend(en.err().into_iter().map(Problem::Unparsable));
            problems.extend(zh.err().into_iter().map(Problem::Unparsable));
            return problems;
        }
    };
    for section in required {
        if !en.headings.iter().any(|h| h == section) {
            problems.push(Problem::SectionNotFound(section.to_string()));
        }
    }

    // 1. Every block of the translation is a block of the English README.
    for block in &zh.blocks {
        if !en.blocks.iter().any(|b| b.same_code(block)) {
            problems.push(Problem::Changed(block.clone()));
        }
    }

    // 2. Every block of a required section is in the translation.
    let is_required = |b: &Block| b.section.as_deref().is_some_and(|s| required.contains(&s));
    for block in en.blocks.iter().filter(|b| is_required(b)) {
        if !zh.blocks.iter().any(|b| b.same_code(block)) {
            problems.push(Problem::Missing(block.clone()));
        }
    }

    // 3. The shared blocks come in the same order: the translation's blocks are a
    //    subsequence of the English ones. Those outside a longest common subsequence
    //    (and not reported as changed) are out of place: one moved block is reported
    //    alone, not with every block after it.
    let (n, m) = (zh.blocks.len(), en.blocks.len());
    // common[i][j]: the length of a longest common subsequence of zh[i..] and en[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if zh.blocks[i].same_code(&en.blocks[j]) {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut in_order = vec![false; n];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if zh.blocks[i].same_code(&en.blocks[j]) {
            in_order[i] = true;
            (i, j) = (i + 1, j + 1);
        } else if common[i + 1][j] >= common[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    for (block, _) in zh.blocks.iter().zip(in_order).filter(|(_, ok)| !ok) {
        if let Some(english) = en.blocks.iter().find(|b| b.same_code(block)) {
            problems.push(Problem::OutOfOrder {
                block: block.clone(),
                english: english.clone(),
            });
        }
    }
    problems
}

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn the_chinese_readme_carries_the_english_code_blocks_unchanged() {
    let english = read(ENGLISH);
    let chinese = read(CHINESE);
    let problems = check(&english, &chinese, &REQUIRED_SECTIONS);
    assert!(
        problems.is_empty(),
        "{CHINESE} has drifted from {ENGLISH}:\n- {}",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n- ")
    );

    // Not vacuous: the required sections do hold blocks, and all were found.
    let en = parse(ENGLISH, &english).expect("checked above");
    let zh = parse(CHINESE, &chinese).expect("checked above");
    let required = en
        .blocks
        .iter()
        .filter(|b| {
            b.section
                .as_deref()
                .is_some_and(|s| REQUIRED_SECTIONS.contains(&s))
        })
        .count();
    assert!(required > 0, "no code block found in the required sections");
    println!(
        "{CHINESE}: {} code blocks, each byte-identical to one of {ENGLISH}'s {}; all {required} \
         blocks of the required sections present, in order",
        zh.blocks.len(),
        en.blocks.len()
    );
}

/// The checker itself, on hand-made files: it accepts a faithful translation and catches
/// a changed block, a changed info string, a missing block, a reordering, a missing link,
/// an unclosed block and a renamed section.
#[test]
fn the_checker_catches_drift() {
    // A `## ` line inside a block is code, not a heading; a ```` fence holds ``` lines;
    // `Layout` is not required.
    const EN: &str = r#"# Title
[中文说明](README.zh-CN.md)

## Set-up

```sh
cargo run   # the quickstart
## Layout (a comment, not a heading)
```

Then:

```sh
cargo test
```

## Layout

```sh
cargo xtask regenerate
```

## Usage

```rust,no_run
let a = 1;
```

### Secrets

````rust
let b = 2;
```
````
"#;
    const ZH: &str = r#"# 标题
[English](README.md)

## 准备

```sh
cargo run   # the quickstart
## Layout (a comment, not a heading)
```

然后：

```sh
cargo test
```

## 用法

```rust,no_run
let a = 1;
```

### 密钥

````rust
let b = 2;
```
````
"#;
    const REQUIRED: [&str; 2] = ["Set-up", "Usage"];
    let run = |en: &str, zh: &str| check(en, zh, &REQUIRED);
    let described = |problems: &[Problem]| {
        problems
            .iter()
            .map(|p| format!("{p}\n"))
            .collect::<String>()
    };

    // A faithful translation, which may leave out the maintainers' block or keep it in place.
    let problems = run(EN, ZH);
    assert!(problems.is_empty(), "{}", described(&problems));
    let with_layout = ZH.replace(
        "## 用法",
        "## 维护\n\n```sh\ncargo xtask regenerate\n```\n\n## 用法",
    );
    let problems = run(EN, &with_layout);
    assert!(problems.is_empty(), "{}", described(&problems));

    // One character changed inside a block: that block is no English block, and the
    // English one is missing.
    let changed = ZH.replace("let a = 1;", "let a = 2;");
    let problems = run(EN, &changed);
    assert!(
        matches!(&problems[..], [Problem::Changed(zh), Problem::Missing(en)]
            if zh.number == 3 && zh.first_line() == "let a = 2;"
                && en.number == 4 && en.first_line() == "let a = 1;"),
        "{}",
        described(&problems)
    );
    let text = problems[0].to_string();
    assert!(
        text.contains("code block #3") && text.contains("`let a = 2;`"),
        "{text}"
    );

    // The info string is compared too.
    let retagged = ZH.replace("```rust,no_run", "```rust");
    let problems = run(EN, &retagged);
    assert!(
        matches!(&problems[..], [Problem::Changed(zh), Problem::Missing(_)] if zh.info == "rust"),
        "{}",
        described(&problems)
    );

    // A block of a required section left out (the second of Set-up: the `## Layout` line
    // inside the first block did not end the section).
    let missing = ZH.replace("```sh\ncargo test\n```\n", "");
    let problems = run(EN, &missing);
    assert!(
        matches!(&problems[..], [Problem::Missing(en)]
            if en.number == 2 && en.section.as_deref() == Some("Set-up")),
        "{}",
        described(&problems)
    );

    // Two blocks swapped: one of them is out of place.
    const RUN: &str = "cargo run   # the quickstart\n## Layout (a comment, not a heading)\n";
    let swapped = ZH
        .replace(RUN, "@@")
        .replace("cargo test\n", RUN)
        .replace("@@", "cargo test\n");
    let problems = run(EN, &swapped);
    assert!(
        matches!(&problems[..], [Problem::OutOfOrder { block, english }]
            if block.same_code(english) && block.number <= 2 && english.number <= 2),
        "{}",
        described(&problems)
    );
    let text = problems[0].to_string();
    assert!(text.contains("out of place"), "{text}");
    // A block that is not required, out of its place: that one alone.
    let layout_first = ZH.replace("## 准备", "```sh\ncargo xtask regenerate\n```\n\n## 准备");
    let problems = run(EN, &layout_first);
    assert!(
        matches!(&problems[..], [Problem::OutOfOrder { block, english }]
            if block.number == 1 && english.number == 3),
        "{}",
        described(&problems)
    );

    // The links both ways.
    let problems = run(&EN.replace("[中文说明](README.zh-CN.md)", ""), ZH);
    assert!(
        matches!(&problems[..], [Problem::NoLink { from: ENGLISH, .. }]),
        "{}",
        described(&problems)
    );
    let problems = run(EN, &ZH.replace("[English](README.md)", "English"));
    assert!(
        matches!(&problems[..], [Problem::NoLink { from: CHINESE, .. }]),
        "{}",
        described(&problems)
    );

    // An unclosed block, and a required section that is not there.
    let problems = run(EN, &format!("{ZH}\n```sh\ncargo fmt\n"));
    assert!(
        matches!(&problems[..], [Problem::Unparsable(e)]
            if e.starts_with(CHINESE) && e.contains("`cargo fmt`") && e.contains("never closed")),
        "{}",
        described(&problems)
    );
    let problems = check(EN, ZH, &["Set-up", "Tokens"]);
    assert!(
        matches!(&problems[..], [Problem::SectionNotFound(s)] if s == "Tokens"),
        "{}",
        described(&problems)
    );
}
