//! docs/walkthrough.md, run as written: every request the walkthrough shows is sent to the
//! app, in order, on a fresh database, and must answer the status shown under it.
//!
//! The walkthrough is plain shell. Each request is a ```sh block with one `curl`; the block
//! after it is the ```http answer, whose first line (`HTTP/1.1 201 Created`) is the status
//! the request must get. The shell understood here is the small part the walkthrough uses:
//! `NAME=value` and `NAME=$(...)` assignments, single and double quotes, `$NAME`,
//! backslash-newline, `cat > FILE <<'TAG'` here-documents, `curl ... | tee FILE`, and inside
//! `$(...)`: `rapport token`, `sed -n 's/REGEX/\1/p' FILE` and `date -u +FORMAT`. Anything
//! else in a ```sh block fails the test, so the walkthrough cannot show a command that is not
//! checked here (starting the server and `rm` are the exceptions).
//!
//! Beyond the status, each header line shown must be in the answer with that value
//! (`x-request-id`, `ratelimit-reset` and `date` vary and are only checked to be there), a
//! JSON answer must parse, every `"field":` shown must be a field of the answer, and every
//! `"field":value` shown (a string, number, boolean or null, unless abbreviated with `…`)
//! must be in the answer, except for values that differ per run (times, tokens, links).

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use rapport::auth::Scope;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

const WALKTHROUGH: &str = include_str!("../../docs/walkthrough.md");

/// Where the walkthrough reaches the server.
const ORIGIN: &str = "http://127.0.0.1:8080";

both_backends!(the_walkthrough_runs_as_written);

async fn the_walkthrough_runs_as_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let steps = fenced_blocks(WALKTHROUGH);
    let mut shell = Shell { app: &app, vars: HashMap::new(), files: HashMap::new() };
    let mut requests = 0;
    for (index, block) in steps.iter().enumerate() {
        if block.language != "sh" {
            continue;
        }
        let answer = steps.get(index + 1).filter(|next| next.language == "http");
        requests += shell.run_block(block, answer).await;
    }
    assert!(requests >= 30, "the walkthrough should show its requests; ran {requests}");
}

/// A fenced code block of the Markdown file.
#[derive(Debug)]
struct Block {
    language: String,
    text: String,
    /// 1-based line of the opening fence, for messages.
    line: usize,
}

fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(language) = trimmed.strip_prefix("```") {
                    current =
                        Some(Block { language: language.trim().to_string(), text: String::new(), line: number + 1 });
                }
            }
            Some(mut block) => {
                if trimmed.starts_with("```") {
                    blocks.push(block);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                    current = Some(block);
                }
            }
        }
    }
    assert!(current.is_none(), "docs/walkthrough.md: a fenced block is not closed");
    blocks
}

// ---------------------------------------------------------------------------------------
// A small shell lexer

#[derive(Debug, Clone)]
enum Part {
    /// Literal text (quoting already removed).
    Text(String),
    /// `$NAME` or `${NAME}`.
    Var(String),
    /// `$(...)`: the command inside.
    Subst(String),
}

type Word = Vec<Part>;

/// One command line: the stages of a pipeline, and the here-document it reads, if any.
#[derive(Debug, Default)]
struct Command {
    stages: Vec<Vec<Word>>,
    heredoc: Option<String>,
}

fn lex(script: &str) -> Vec<Command> {
    let chars: Vec<char> = script.chars().collect();
    let mut commands = Vec::new();
    let mut command = Command::default();
    let mut stage: Vec<Word> = Vec::new();
    let mut pending_heredoc: Option<String> = None;
    let mut i = 0;
    let finish = |command: &mut Command, stage: &mut Vec<Word>, commands: &mut Vec<Command>| {
        if !stage.is_empty() {
            command.stages.push(std::mem::take(stage));
        }
        if !command.stages.is_empty() {
            commands.push(std::mem::take(command));
        }
    };
    while i < chars.len() {
        match chars[i] {
            ' ' | '\t' => i += 1,
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\n' | ';' => {
                let newline = chars[i] == '\n';
                i += 1;
                if newline {
                    if let Some(tag) = pending_heredoc.take() {
                        let mut body = String::new();
                        loop {
                            let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
                            let line: String = chars[i..end].iter().collect();
                            i = (end + 1).min(chars.len());
                            if line.trim() == tag {
                                break;
                            }
                            assert!(end < chars.len(), "here-document `{tag}` is not closed");
                            body.push_str(&line);
                            body.push('\n');
                        }
                        command.heredoc = Some(body);
                    }
                }
                finish(&mut command, &mut stage, &mut commands);
            }
            '|' => {
                i += 1;
                command.stages.push(std::mem::take(&mut stage));
            }
            '<' if chars.get(i + 1) == Some(&'<') => {
                i += 2;
                let mut tag = String::new();
                while i < chars.len() && !chars[i].is_whitespace() {
                    if chars[i] != '\'' && chars[i] != '"' {
                        tag.push(chars[i]);
                    }
                    i += 1;
                }
                pending_heredoc = Some(tag);
            }
            '>' => {
                i += 1;
                stage.push(vec![Part::Text(">".to_string())]);
            }
            _ => {
                let (word, next) = lex_word(&chars, i);
                stage.push(word);
                i = next;
            }
        }
    }
    finish(&mut command, &mut stage, &mut commands);
    commands
}

fn lex_word(chars: &[char], mut i: usize) -> (Word, usize) {
    let mut word: Word = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, word: &mut Word| {
        if !text.is_empty() {
            word.push(Part::Text(std::mem::take(text)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | ';' | '|' | '>' | '<' => break,
            '\'' => {
                let end = chars[i + 1..].iter().position(|&c| c == '\'').expect("unclosed single quote") + i + 1;
                text.extend(&chars[i + 1..end]);
                i = end + 1;
            }
            '"' => {
                i += 1;
                while chars[i] != '"' {
                    match chars[i] {
                        '\\' if matches!(chars[i + 1], '"' | '\\' | '$' | '`') => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        '\\' if chars[i + 1] == '\n' => i += 2,
                        '$' => {
                            flush(&mut text, &mut word);
                            let (part, next) = lex_dollar(chars, i);
                            word.push(part);
                            i = next;
                        }
                        other => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            '\\' => {
                if chars[i + 1] != '\n' {
                    text.push(chars[i + 1]);
                }
                i += 2;
            }
            '$' => {
                flush(&mut text, &mut word);
                let (part, next) = lex_dollar(chars, i);
                word.push(part);
                i = next;
            }
            other => {
                text.push(other);
                i += 1;
            }
        }
    }
    flush(&mut text, &mut word);
    (word, i)
}

/// `$NAME`, `${NAME}` or `$(...)` at `i`.
fn lex_dollar(chars: &[char], i: usize) -> (Part, usize) {
    match chars.get(i + 1) {
        Some('(') => {
            let (mut depth, mut j, mut quote) = (1, i + 2, None);
            while depth > 0 {
                match (quote, chars[j]) {
                    (None, '\'' | '"') => quote = Some(chars[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, '(') => depth += 1,
                    (None, ')') => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            (Part::Subst(chars[i + 2..j - 1].iter().collect()), j)
        }
        Some('{') => {
            let end = chars[i..].iter().position(|&c| c == '}').expect("unclosed ${") + i;
            (Part::Var(chars[i + 2..end].iter().collect()), end + 1)
        }
        _ => {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            assert!(j > i + 1, "a lone `$`");
            (Part::Var(chars[i + 1..j].iter().collect()), j)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the walkthrough

struct Shell<'a> {
    app: &'a TestApp,
    vars: HashMap<String, String>,
    /// Files written by `tee` or a here-document.
    files: HashMap<String, String>,
}

/// What a `curl` in the walkthrough sends.
#[derive(Debug)]
struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl Shell<'_> {
    /// Runs a ```sh block; answers how many requests it sent (0 or 1).
    async fn run_block(&mut self, block: &Block, answer: Option<&Block>) -> usize {
        let at = format!("docs/walkthrough.md:{}", block.line);
        let mut sent = 0;
        for command in lex(&block.text) {
            let first = self.expand(&command.stages[0][0]);
            let words: Vec<String> = command.stages[0].iter().map(|w| self.expand(w)).collect();
            if let Some((name, value)) = assignment(&command.stages[0]) {
                assert_eq!(command.stages.len(), 1, "{at}: an assignment in a pipeline");
                let value = self.expand(&value);
                self.vars.insert(name, value);
            } else if first == "curl" {
                assert_eq!(sent, 0, "{at}: one request per block, so that its answer can follow it");
                let answer = answer.unwrap_or_else(|| panic!("{at}: a request needs its ```http answer after it"));
                let output = self.curl(&words, &answer.text, &at).await;
                match command.stages.get(1).map(|stage| stage.iter().map(|w| self.expand(w)).collect::<Vec<_>>()) {
                    None => {}
                    Some(tee) if tee.len() == 2 && tee[0] == "tee" => {
                        self.files.insert(tee[1].clone(), output);
                    }
                    Some(other) => panic!("{at}: only `| tee FILE` may follow a curl, not {other:?}"),
                }
                assert!(command.stages.len() <= 2, "{at}: one `| tee FILE` at most");
                sent += 1;
            } else if first == "cat" && words.get(1).map(String::as_str) == Some(">") {
                let body = command.heredoc.clone().unwrap_or_else(|| panic!("{at}: `cat >` without a here-document"));
                self.files.insert(words[2].clone(), body);
            } else if is_server_or_housekeeping(&words) {
                // Starting the server, deleting an old database: nothing to check.
            } else {
                panic!("{at}: the walkthrough test does not know the command {words:?}");
            }
        }
        if sent == 0 {
            assert!(
                answer.is_none() || !block.text.contains("curl"),
                "{at}: an ```http answer follows a block without a request"
            );
        }
        sent
    }

    fn expand(&self, word: &Word) -> String {
        word.iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Var(name) => {
                    self.vars.get(name).cloned().unwrap_or_else(|| panic!("`${name}` is used before it is set"))
                }
                Part::Subst(inner) => self.substitute(inner),
            })
            .collect()
    }

    /// The output of `$(inner)`, without its trailing newline.
    fn substitute(&self, inner: &str) -> String {
        let commands = lex(inner);
        assert_eq!(commands.len(), 1, "`$({inner})`: one command");
        assert_eq!(commands[0].stages.len(), 1, "`$({inner})`: no pipeline");
        let words: Vec<String> = commands[0].stages[0].iter().map(|w| self.expand(w)).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["date", "-u", format] => {
                let format = format.strip_prefix('+').expect("date -u +FORMAT");
                chrono::Utc::now().format(format).to_string()
            }
            ["sed", "-n", script, file] => {
                let text = self.files.get(*file).unwrap_or_else(|| panic!("`{file}` was not written before"));
                sed_print(script, text)
            }
            [program, rest @ ..] if program.ends_with("rapport") && rest.first() == Some(&"token") => self.token(rest),
            _ => panic!("`$({inner})` is not a command the walkthrough test knows"),
        }
    }

    /// `rapport token --sub NAME --scope "SCOPES" [--ttl TTL]`, signed with the app's secret.
    fn token(&self, args: &[&str]) -> String {
        let mut sub = None;
        let mut scopes = None;
        let mut args = args[1..].iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--sub" => sub = args.next().copied(),
                "--scope" => scopes = args.next().copied(),
                "--ttl" => {
                    let ttl = args.next().expect("--ttl VALUE");
                    rapport::auth::parse_ttl(ttl).expect("a valid --ttl");
                }
                other => panic!("rapport token: unknown argument {other}"),
            }
        }
        let scopes: Vec<Scope> = scopes
            .expect("rapport token --scope")
            .split_whitespace()
            .map(|s| Scope::parse(s).unwrap_or_else(|| panic!("unknown scope {s}")))
            .collect();
        self.app.state.jwt.issue(sub.expect("rapport token --sub"), &scopes, chrono::Duration::hours(1))
    }

    /// Sends the request of `args` (curl's arguments), checks it against the answer shown,
    /// and gives back what `curl -i` prints.
    async fn curl(&self, args: &[String], shown: &str, at: &str) -> String {
        let request = parse_curl(args, &self.files, at);
        let path = request
            .url
            .strip_prefix(ORIGIN)
            .unwrap_or_else(|| panic!("{at}: the walkthrough reaches the server at {ORIGIN}, not {}", request.url));
        let mut test_request = TestRequest::default()
            .method(request.method.clone())
            .uri(path)
            .peer_addr("127.0.0.1:50000".parse().unwrap())
            .insert_header(("User-Agent", "curl/8.0"))
            .insert_header(("Accept", "*/*"));
        let has_content_type = request.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        for (name, value) in &request.headers {
            test_request = test_request.insert_header((name.as_str(), value.as_str()));
        }
        if let Some(body) = &request.body {
            if !has_content_type {
                test_request = test_request.insert_header(("Content-Type", "application/x-www-form-urlencoded"));
            }
            test_request = test_request.set_payload(body.clone());
        }
        let response = self.app.call(test_request).await;

        let what = format!("{at}: {} {path}", request.method);
        let mut shown_lines = shown.lines();
        let status_line = shown_lines.next().unwrap_or_default();
        let shown_status: u16 = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{what}: the answer shown must start with `HTTP/1.1 <status>`"));
        assert_eq!(
            response.status.as_u16(),
            shown_status,
            "{what}: the walkthrough shows another status; body: {}",
            response.text
        );

        for line in shown_lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("{what}: header line `{line}`"));
            let actual = response
                .header(name.trim())
                .unwrap_or_else(|| panic!("{what}: the answer has no `{}` header", name.trim()));
            if !matches!(name.trim().to_ascii_lowercase().as_str(), "x-request-id" | "ratelimit-reset" | "date") {
                assert_eq!(actual, value.trim(), "{what}: header `{}`", name.trim());
            }
        }
        let shown_body: String = shown_lines.collect::<Vec<_>>().join("\n");

        let content_type = response.header("content-type").unwrap_or_default().to_string();
        if content_type.contains("json") {
            assert!(!response.body.is_null(), "{what}: the JSON answer does not parse: {}", response.text);
        }
        check_body(&shown_body, &response.body, &what);

        let mut output = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status.as_u16(),
            response.status.canonical_reason().unwrap_or_default()
        );
        for (name, value) in response.headers.iter() {
            output.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap_or_default()));
        }
        output.push_str("\r\n");
        output.push_str(&response.text);
        output.push('\n');
        output
    }
}

/// `NAME=value` as the only word of a command.
fn assignment(stage: &[Word]) -> Option<(String, Word)> {
    if stage.len() != 1 {
        return None;
    }
    let Some(Part::Text(first)) = stage[0].first() else { return None };
    let (name, rest) = first.split_once('=')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
        return None;
    }
    let mut value = vec![Part::Text(rest.to_string())];
    value.extend(stage[0][1..].iter().cloned());
    Some((name.to_string(), value))
}

fn is_server_or_housekeeping(words: &[String]) -> bool {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(words.as_slice(), ["cargo", "run", "--release"] | ["rm", ..])
}

fn parse_curl(args: &[String], files: &HashMap<String, String>, at: &str) -> Request {
    let mut method = None;
    let mut url = None;
    let mut headers = Vec::new();
    let mut body = None;
    let mut include = false;
    let mut args = args[1..].iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{at}: curl {arg} needs a value")).clone();
        match arg.as_str() {
            "-X" => method = Some(value()),
            "-H" => {
                let header = value();
                let (name, content) = header.split_once(':').unwrap_or_else(|| panic!("{at}: header `{header}`"));
                headers.push((name.trim().to_string(), content.trim().to_string()));
            }
            "-d" | "--data" | "--data-binary" => {
                let data = value();
                body = Some(match data.strip_prefix('@') {
                    Some(file) => files.get(file).unwrap_or_else(|| panic!("{at}: `{file}` was not written")).clone(),
                    None if arg == "--data-binary" => data,
                    // curl -d drops newlines from a file, not from an argument.
                    None => data,
                });
            }
            "-w" => {
                value();
            }
            flags
                if flags.starts_with('-')
                    && !flags.starts_with("--")
                    && flags[1..].chars().all(|c| "siS".contains(c)) =>
            {
                include |= flags.contains('i');
            }
            other if other.starts_with("http://") || other.starts_with("https://") => url = Some(other.to_string()),
            other => panic!("{at}: curl option `{other}` is not one the walkthrough test knows"),
        }
    }
    assert!(include, "{at}: curl -i, so that the reader sees the status shown under it");
    let method = match method {
        Some(method) => Method::from_bytes(method.as_bytes()).expect("an HTTP method"),
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    Request { method, url: url.unwrap_or_else(|| panic!("{at}: curl without a URL")), headers, body }
}

// ---------------------------------------------------------------------------------------
// Comparing the answer with what the walkthrough shows

/// Values that differ from run to run: checked to be there, not compared.
fn varies(key: &str) -> bool {
    key.ends_with("_at")
        || key.ends_with("_url")
        || key.ends_with("token")
        || matches!(key, "request_id" | "url" | "body" | "content" | "code" | "promo_code" | "next_cursor")
        || matches!(key, "window_start" | "window_end" | "ip" | "user_agent")
}

fn check_body(shown: &str, actual: &Value, what: &str) {
    let mut keys = Vec::new();
    collect_keys(actual, &mut keys);
    for (key, value) in shown_pairs(shown) {
        assert!(keys.iter().any(|(k, _)| k == &key), "{what}: the answer has no field `{key}`: {actual}");
        let Some(value) = value else { continue };
        if varies(&key) {
            continue;
        }
        assert!(
            keys.iter().any(|(k, v)| k == &key && *v == value),
            "{what}: the walkthrough shows \"{key}\":{value} but the answer is {actual}"
        );
    }
}

fn collect_keys(value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                out.push((key.clone(), inner.clone()));
                collect_keys(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_keys(item, out)),
        _ => {}
    }
}

/// Every `"key":` in the text, with its value when that is a whole scalar
/// (not abbreviated with `…`).
fn shown_pairs(text: &str) -> Vec<(String, Option<Value>)> {
    let chars: Vec<char> = text.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '"' {
            i += 1;
            continue;
        }
        let (string, end) = read_string(&chars, i);
        i = end;
        let mut j = end;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if chars.get(j) != Some(&':') {
            continue;
        }
        j += 1;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let value = if chars.get(j) == Some(&'"') {
            let (inner, end) = read_string(&chars, j);
            i = end;
            let literal: String = chars[j..end].iter().collect();
            (!inner.contains('…')).then(|| serde_json::from_str(&literal).ok()).flatten()
        } else {
            let end = chars[j..]
                .iter()
                .position(|c| matches!(c, ',' | '}' | ']' | ' ' | '\n'))
                .map_or(chars.len(), |p| j + p);
            let literal: String = chars[j..end].iter().collect();
            serde_json::from_str::<Value>(&literal).ok().filter(|v| !v.is_object() && !v.is_array())
        };
        pairs.push((string, value));
    }
    pairs
}

/// The JSON string starting at `start` (a `"`): its content and the index after it.
fn read_string(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start + 1;
    let mut out = String::new();
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i]);
            i += 1;
        }
        out.push(chars[i]);
        i += 1;
    }
    (out, i + 1)
}

// ---------------------------------------------------------------------------------------
// `sed -n 's/REGEX/REPLACEMENT/p'`: the basic regular expressions the walkthrough uses
// (`^`, `.`, `*`, `[...]`, `[^...]`, `\(...\)`, literal characters; `\1` in the replacement).

#[derive(Debug, Clone)]
enum Atom {
    Any,
    Char(char),
    Class { ranges: Vec<(char, char)>, negated: bool },
    GroupStart,
    GroupEnd,
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Any => c != '\n',
            Atom::Char(expected) => *expected == c,
            Atom::Class { ranges, negated } => ranges.iter().any(|(low, high)| (*low..=*high).contains(&c)) != *negated,
            Atom::GroupStart | Atom::GroupEnd => unreachable!(),
        }
    }
}

fn sed_print(script: &str, text: &str) -> String {
    let body = script.strip_prefix("s/").and_then(|s| s.strip_suffix("/p")).expect("sed -n 's/REGEX/REPLACEMENT/p'");
    let (regex, replacement) = body.rsplit_once('/').expect("s/REGEX/REPLACEMENT/p");
    let (anchored, pattern) = compile(regex);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line: Vec<char> = line.chars().collect();
        let starts = if anchored { 0..1 } else { 0..line.len() + 1 };
        for start in starts {
            let mut group = (0, 0);
            if let Some(end) = match_here(&pattern, 0, &line, start, &mut group) {
                let captured: String = line[group.0..group.1].iter().collect();
                let mut printed: String = line[..start].iter().collect();
                printed.push_str(&replacement.replace("\\1", &captured));
                printed.extend(&line[end..]);
                out.push(printed);
                break;
            }
        }
    }
    out.join("\n")
}

/// Atoms with a flag for `*`.
fn compile(regex: &str) -> (bool, Vec<(Atom, bool)>) {
    let chars: Vec<char> = regex.chars().collect();
    let anchored = chars.first() == Some(&'^');
    let mut i = usize::from(anchored);
    let mut atoms: Vec<(Atom, bool)> = Vec::new();
    while i < chars.len() {
        let atom = match chars[i] {
            '.' => Atom::Any,
            '*' => {
                atoms.last_mut().expect("`*` after something").1 = true;
                i += 1;
                continue;
            }
            '[' => {
                let mut j = i + 1;
                let negated = chars[j] == '^';
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                while first || chars[j] != ']' {
                    first = false;
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&c| c != ']') {
                        ranges.push((chars[j], chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((chars[j], chars[j]));
                        j += 1;
                    }
                }
                i = j;
                Atom::Class { ranges, negated }
            }
            '\\' => {
                i += 1;
                match chars[i] {
                    '(' => Atom::GroupStart,
                    ')' => Atom::GroupEnd,
                    other => Atom::Char(other),
                }
            }
            other => Atom::Char(other),
        };
        atoms.push((atom, false));
        i += 1;
    }
    (anchored, atoms)
}

/// Greedy, backtracking; answers where the match ends.
fn match_here(
    pattern: &[(Atom, bool)],
    p: usize,
    line: &[char],
    at: usize,
    group: &mut (usize, usize),
) -> Option<usize> {
    let Some((atom, star)) = pattern.get(p) else { return Some(at) };
    match atom {
        Atom::GroupStart => {
            let saved = *group;
            group.0 = at;
            let result = match_here(pattern, p + 1, line, at, group);
            if result.is_none() {
                *group = saved;
            }
            result
        }
        Atom::GroupEnd => {
            let saved = *group;
            group.1 = at;
            let result = match_here(pattern, p + 1, line, at, group);
            if result.is_none() {
                *group = saved;
            }
            result
        }
        _ if *star => {
            let mut longest = at;
            while longest < line.len() && atom.matches(line[longest]) {
                longest += 1;
            }
            (at..=longest).rev().find_map(|end| match_here(pattern, p + 1, line, end, group))
        }
        _ => {
            if at < line.len() && atom.matches(line[at]) {
                match_here(pattern, p + 1, line, at + 1, group)
            } else {
                None
            }
        }
    }
}

#[test]
fn sed_expressions_work_as_in_sed() {
    let text =
        "HTTP/1.1 201 Created\r\nlocation: /v1/customers/7\r\n\r\n{\"id\":7,\"customer_id\":3,\"n\":{\"id\":9}}\n";
    assert_eq!(sed_print(r#"s/^{"id":\([0-9]*\).*/\1/p"#, text), "7");
    assert_eq!(sed_print(r#"s/.*"customer_id":\([0-9]*\).*/\1/p"#, text), "3");
    assert_eq!(sed_print(r#"s/.*"id":\([0-9]*\).*/\1/p"#, text), "9");
    assert_eq!(
        sed_print(r#"s/.*"url":"\([^"]*\)".*/\1/p"#, r#"{"url":"http://x/y?token=a_b-c"}"#),
        "http://x/y?token=a_b-c"
    );
    assert_eq!(sed_print(r"s/.*token=\([A-Za-z0-9_-]*\).*/\1/p", "go to http://x/?token=Ab_9-z\\n now"), "Ab_9-z");
    assert_eq!(sed_print(r#"s/^{"id":\([0-9]*\).*/\1/p"#, "no match here"), "");
}

#[test]
fn the_shell_lexer_reads_quotes_variables_and_here_documents() {
    let commands = lex("A=$(x --s \"a b\")\ncurl -d '{\"k\": '\"$A\"'}' \\\n  -H \"X: $A\" | tee out.txt\ncat > f <<'J'\n{\"a\": 1}\nJ\n");
    assert_eq!(commands.len(), 3);
    assert!(matches!(&commands[0].stages[0][0][1], Part::Subst(inner) if inner == "x --s \"a b\""));
    assert_eq!(commands[1].stages.len(), 2);
    assert_eq!(commands[1].stages[0].len(), 5);
    assert_eq!(commands[2].heredoc.as_deref(), Some("{\"a\": 1}\n"));
}
