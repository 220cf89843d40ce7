//! Go templates in alert labels and annotations, checked as `promtool check rules` checks
//! them: Prometheus prepends its variable definitions (`$labels`, `$value`,
//! `$externalLabels`, `$externalURL`) and parses the text with Go's `text/template` and its
//! template functions. Parsing is `gotmpl`'s, a port of Go's parser; what Go's parser also
//! refuses and that one lets through is checked here by walking the parsed tree: every
//! function is defined, every variable declared in scope, the whole text was parsed (a
//! stray `{{end}}` or an unterminated `{{define}}`), at most two `range` declarations, a
//! space between operands (`{{ 1.2.3 }}`). The table test in the model's tests holds each
//! of these against the real promtool.

use gotmpl::parse::{BranchNode, Expr, ListNode, Node, Parser, PipeNode};

/// Appended to the text: if the parse stopped early, this action is not the last top-level
/// node (gotmpl returns what it parsed up to a stray `{{end}}` without an error).
const SENTINEL: &str = "\u{1}promrules-end\u{1}";

/// What Prometheus prepends to every alert template (`promql/rules/alerting.go`).
const DEFINITIONS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}\
                           {{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Go's built-in template functions (`text/template/funcs.go`).
const GO_FUNCTIONS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Prometheus's template functions (`template/template.go`), across 2.x and 3.x; a function a
/// host's older Prometheus lacks is still caught by its promtool before a reload.
const PROMETHEUS_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "tmpl",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "reReplaceAll",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
    "urlQueryEscape",
];

/// Checks one label or annotation value; `Err` says what is wrong, as one line.
pub(crate) fn check(text: &str) -> Result<(), String> {
    if !text.contains("{{") {
        return Ok(()); // no action: plain text, nothing to parse
    }
    let source = format!("{DEFINITIONS}{text}{{{{\"{SENTINEL}\"}}}}");
    let (mut tree, defines) = Parser::new(&source, "{{", "}}")
        .and_then(Parser::parse)
        .map_err(|error| one_line(&error.to_string()))?;
    if !ends_with_sentinel(&tree) {
        return Err(if defines.iter().any(|define| ends_with_sentinel(&define.body)) {
            "unexpected EOF (a `{{define}}` without `{{end}}`)".to_owned()
        } else {
            "unexpected {{end}}".to_owned()
        });
    }
    tree.nodes.pop();
    let walker = Walker { source: &source };
    walker.list(&tree, &mut vec!["$".to_owned()])?;
    for define in &defines {
        walker.list(&define.body, &mut vec!["$".to_owned()])?;
    }
    Ok(())
}

/// An error message on one line, without the parser's internal template name.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ends_with_sentinel(list: &ListNode) -> bool {
    let Some(Node::Action(action)) = list.nodes.last() else { return false };
    matches!(&action.pipe.commands[..], [command]
        if matches!(&command.args[..], [Expr::String(_, text)] if &**text == SENTINEL))
}

/// Walks a parsed template with the variables in scope; `source` is the parsed text, for
/// what positions tell.
struct Walker<'s> {
    source: &'s str,
}

impl Walker<'_> {
    fn list(&self, list: &ListNode, scope: &mut Vec<String>) -> Result<(), String> {
        list.nodes.iter().try_for_each(|node| self.node(node, scope))
    }

    fn node(&self, node: &Node, scope: &mut Vec<String>) -> Result<(), String> {
        match node {
            Node::List(list) => self.list(list, scope),
            Node::Action(action) => self.pipe(&action.pipe, scope),
            Node::Range(branch) if branch.pipe.decl.len() > 2 => {
                Err("too many declarations in range".to_owned())
            }
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                self.branch(branch, scope)
            }
            Node::Template(template) => match &template.pipe {
                Some(pipe) => self.pipe(pipe, scope),
                None => Ok(()),
            },
            // A definition has its own scope.
            Node::Define(define) => self.list(&define.body, &mut vec!["$".to_owned()]),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => Ok(()),
        }
    }

    /// `if`, `with` and `range`: what the pipeline and the body declare lives until
    /// `{{end}}`.
    fn branch(&self, branch: &BranchNode, scope: &mut Vec<String>) -> Result<(), String> {
        let depth = scope.len();
        self.pipe(&branch.pipe, scope)?;
        self.list(&branch.body, scope)?;
        if let Some(else_body) = &branch.else_body {
            self.list(else_body, scope)?;
        }
        scope.truncate(depth);
        Ok(())
    }

    fn pipe(&self, pipe: &PipeNode, scope: &mut Vec<String>) -> Result<(), String> {
        for command in &pipe.commands {
            for pair in command.args.windows(2) {
                self.glued(&pair[0], &pair[1])?;
            }
            for arg in &command.args {
                self.expr(arg, scope)?;
            }
        }
        // Go's parser checks only that used variables exist; an assignment (`=`) to an
        // undeclared one fails when the template runs, which promtool does not do.
        if !pipe.is_assign {
            scope.extend(pipe.decl.iter().map(ToString::to_string));
        }
        Ok(())
    }

    /// Go wants a space between two operands (`{{ 1.2.3 }}` is `1.2` glued to `.3`; `{{ "a".b }}`
    /// a field glued to a literal); the same two with a space between are two arguments,
    /// which only execution refuses.
    fn glued(&self, term: &Expr, next: &Expr) -> Result<(), String> {
        let (from, to) = (term.pos().offset, next.pos().offset);
        let between = self.source.get(from..to).unwrap_or(" ");
        if between.contains(char::is_whitespace) {
            return Ok(());
        }
        let operand: String =
            self.source[to..].chars().take_while(|c| !c.is_whitespace() && *c != '}').collect();
        Err(format!("unexpected \"{operand}\" in operand"))
    }

    fn expr(&self, expr: &Expr, scope: &mut Vec<String>) -> Result<(), String> {
        match expr {
            Expr::Identifier(_, name) => {
                let name: &str = name;
                if GO_FUNCTIONS.contains(&name) || PROMETHEUS_FUNCTIONS.contains(&name) {
                    Ok(())
                } else {
                    Err(format!("function \"{name}\" not defined"))
                }
            }
            Expr::Variable(_, name, _) => check_variable(name, scope),
            Expr::Pipe(_, pipe) => {
                // A parenthesized pipeline's declarations do not outlive it.
                let depth = scope.len();
                self.pipe(pipe, scope)?;
                scope.truncate(depth);
                Ok(())
            }
            Expr::Chain(_, inner, _) => self.expr(inner, scope),
            _ => Ok(()),
        }
    }
}

fn check_variable(name: &str, scope: &[String]) -> Result<(), String> {
    let name = if name.starts_with('$') { name.to_owned() } else { format!("${name}") };
    if scope.contains(&name) { Ok(()) } else { Err(format!("undefined variable \"{name}\"")) }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn plain_text_and_common_templates_pass() {
        for text in ["", "disk full", "{{ $labels.instance }} is down", "{{ $value | humanize }}"] {
            assert_eq!(check(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn errors_are_one_line() {
        let error = check("{{ $labels.x").unwrap_err();
        assert!(!error.contains('\n'), "{error}");
    }
}
