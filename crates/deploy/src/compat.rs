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

/// The first field of `content` that Prometheus `version` (major, minor) does not know, if
/// any. Content that does not parse passes: promtool and the reload will say why.
pub(crate) fn first_unsupported(content: &[u8], version: (u64, u64)) -> Option<Unsupported> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        groups: Option<Vec<serde_yaml::Mapping>>,
    }
    let file: File = serde_yaml::from_slice(content).ok()?;
    for group in file.groups.unwrap_or_default() {
        let name = group.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_owned();
        let unsupported = |field: &'static str, needs: (u64, u64)| {
            (version < needs).then(|| Unsupported { field, group: name.clone(), needs })
        };
        let present = |map: &serde_yaml::Mapping, field: &str| {
            map.get(field).is_some_and(|value| !value.is_null())
        };
        for (field, needs) in GROUP_FIELDS {
            if present(&group, field)
                && let Some(found) = unsupported(field, needs)
            {
                return Some(found);
            }
        }
        let rules = group.get("rules").and_then(|r| r.as_sequence()).cloned().unwrap_or_default();
        for rule in rules.iter().filter_map(|rule| rule.as_mapping()) {
            for (field, needs) in RULE_FIELDS {
                if present(rule, field)
                    && let Some(found) = unsupported(field, needs)
                {
                    return Some(found);
                }
            }
        }
    }
    None
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
    fn unset_fields_and_unparsable_files_pass() {
        let plain = "groups:\n- name: a\n  limit: null\n  rules:\n  - record: x\n    expr: up\n";
        assert_eq!(first_unsupported(plain.as_bytes(), (2, 0)), None);
        assert_eq!(first_unsupported(b"groups: [", (2, 0)), None);
        assert_eq!(first_unsupported(b"", (2, 0)), None);
    }
}
