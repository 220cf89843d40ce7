//! Which Prometheus versions can load a rule file: fields of the rule-file format that
//! older servers refuse as unknown. A deploy checks the file against the host's version
//! (its build info) before it touches the host, so an old server is never left with a file
//! it cannot load, and the message says which field, where, and which version it needs.

use serde::Deserialize;

/// A field that needs a newer Prometheus than the host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported {
    pub(crate) field: &'static str,
    pub(crate) group: String,
    pub(crate) needs: (u64, u64),
}

/// The fields, where they stand, and the first Prometheus release that reads them.
const GROUP_FIELDS: [(&str, (u64, u64)); 3] =
    [("limit", (2, 31)), ("query_offset", (2, 53)), ("labels", (3, 0))];
const RULE_FIELDS: [(&str, (u64, u64)); 1] = [("keep_firing_for", (2, 42))];

/// What a deploy needs to know of a rule file, read in one parse (computed once per file
/// content for a whole fleet): its groups with their number of rules, and the versioned
/// fields it uses. Content that does not parse has neither: promtool and the reload will say
/// why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `(name, rules)`, sorted.
    pub(crate) groups: Vec<(String, usize)>,
    /// Every versioned field set, in the file's order.
    fields: Vec<Unsupported>,
}

impl Facts {
    pub(crate) fn of(content: &[u8]) -> Facts {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            groups: Option<Vec<serde_yaml::Mapping>>,
        }
        let Ok(file) = serde_yaml::from_slice::<File>(content) else { return Facts::default() };
        let present =
            |map: &serde_yaml::Mapping, field: &str| map.get(field).is_some_and(|v| !v.is_null());
        let mut facts = Facts::default();
        for group in file.groups.unwrap_or_default() {
            let name = group.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
            let field = |field: &'static str, needs: (u64, u64)| Unsupported {
                field,
                group: name.clone(),
                needs,
            };
            for (key, needs) in GROUP_FIELDS {
                if present(&group, key) {
                    facts.fields.push(field(key, needs));
                }
            }
            let rules = group.get("rules").and_then(|r| r.as_sequence());
            for rule in rules.into_iter().flatten().filter_map(|rule| rule.as_mapping()) {
                for (key, needs) in RULE_FIELDS {
                    if present(rule, key) {
                        facts.fields.push(field(key, needs));
                    }
                }
            }
            facts.groups.push((name, rules.map_or(0, Vec::len)));
        }
        facts.groups.sort();
        facts
    }

    /// Whether some field needs a particular Prometheus version.
    pub(crate) fn has_versioned_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The first field that Prometheus `version` (major, minor) does not know, if any.
    pub(crate) fn first_unsupported(&self, version: (u64, u64)) -> Option<Unsupported> {
        self.fields.iter().find(|field| version < field.needs).cloned()
    }
}

/// [`Facts::first_unsupported`] of `content`.
#[cfg(test)]
fn first_unsupported(content: &[u8], version: (u64, u64)) -> Option<Unsupported> {
    Facts::of(content).first_unsupported(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_FIELD: &str = "groups:\n- name: a\n  limit: 10\n  rules:\n  - alert: A\n    expr: up\n    keep_firing_for: 5m\n- name: b\n  query_offset: 1m\n  rules: []\n  labels:\n    team: x\n";

    #[test]
    fn each_field_needs_its_release() {
        let at = |major, minor| first_unsupported(EVERY_FIELD.as_bytes(), (major, minor));
        assert_eq!(at(2, 30).map(|u| (u.field, u.group)), Some(("limit", "a".into())));
        assert_eq!(at(2, 41).map(|u| u.field), Some("keep_firing_for"));
        assert_eq!(
            at(2, 42).map(|u| (u.field, u.group, u.needs)),
            Some(("query_offset", "b".into(), (2, 53)))
        );
        assert_eq!(at(2, 53).map(|u| u.field), Some("labels"));
        assert_eq!(at(3, 0), None);
    }

    #[test]
    fn groups_and_their_rule_counts_sorted() {
        let facts = Facts::of(EVERY_FIELD.as_bytes());
        assert_eq!(facts.groups, [("a".to_owned(), 1), ("b".to_owned(), 0)]);
        assert!(facts.has_versioned_fields());
        assert_eq!(Facts::of(b"groups: [").groups, []);
        assert!(!Facts::of(b"groups:\n- name: x\n  rules: []\n").has_versioned_fields());
    }

    #[test]
    fn unset_fields_and_unparsable_files_pass() {
        let plain = "groups:\n- name: a\n  limit: null\n  rules:\n  - record: x\n    expr: up\n";
        assert_eq!(first_unsupported(plain.as_bytes(), (2, 0)), None);
        assert_eq!(first_unsupported(b"groups: [", (2, 0)), None);
        assert_eq!(first_unsupported(b"", (2, 0)), None);
    }
}
