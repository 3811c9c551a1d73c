//! Authorisation before a method runs (spec §6): the methods each role
//! may call in protocol 3, and what protocol 4 offers.

use super::*;

/// Methods an operator with `operator.pairing` may call (others need `operator.admin`).
const PAIRING_METHODS: &[&str] = &[
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.token.rotate",
    "device.token.revoke",
    "node.pair.request",
    "node.pair.list",
    "node.pair.approve",
    "node.pair.reject",
    "node.pair.verify",
    "node.rename",
];
/// Methods only nodes may call.
const NODE_METHODS: &[&str] = &["node.invoke.result", "node.event", "skills.bins"];

/// Protocol 4: the node methods this gateway answers (accepted no-ops: it
/// keeps no capability surface, skills, tools or runner inventory).
const NODE_METHODS_V4: &[&str] = &[
    "node.invoke.result",
    "node.event",
    "skills.bins",
    "node.skills.update",
    "node.pluginTools.update",
    "node.runnerInventory.update",
];

pub(super) fn is_admin(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "operator.admin")
}

/// Whether a connection with `role` and `scopes` may call `method` (2026.2.26).
pub(super) fn authorize(method: &str, role: &str, scopes: &[String]) -> Result<(), Denied> {
    if method == "health" {
        return Ok(());
    }
    if NODE_METHODS.contains(&method) {
        return if role == "node" {
            Ok(())
        } else {
            Err(Denied::Role(role.to_string()))
        };
    }
    if role != "operator" {
        return Err(Denied::Role(role.to_string()));
    }
    if is_admin(scopes) {
        return Ok(());
    }
    let needed = if PAIRING_METHODS.contains(&method) {
        "operator.pairing"
    } else {
        "operator.admin"
    };
    if scopes.iter().any(|s| s == needed) {
        Ok(())
    } else {
        Err(Denied::MissingScope(needed))
    }
}

/// [`authorize`] for protocol 4: methods this gateway does not offer are
/// `unknown method` for every role (2026.9.6 would run them; see the README).
pub(super) fn authorize_v4(method: &str, role: &str, scopes: &[String]) -> Result<(), Denied> {
    if method == "health" {
        return Ok(());
    }
    if NODE_METHODS_V4.contains(&method) {
        return if role == "node" {
            Ok(())
        } else {
            Err(Denied::Role(role.to_string()))
        };
    }
    // What hello-ok offers is the one list; the rest of it needs `operator.pairing`.
    if !super::super::hello::METHODS_V4.contains(&method) {
        return Err(Denied::Unknown(method.to_string()));
    }
    if role != "operator" {
        return Err(Denied::Role(role.to_string()));
    }
    if is_admin(scopes) || scopes.iter().any(|s| s == "operator.pairing") {
        Ok(())
    } else {
        Err(Denied::MissingScope("operator.pairing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn authorize_by_role_then_scope() {
        assert!(authorize("health", "node", &[]).is_ok());
        assert!(authorize("node.event", "node", &[]).is_ok());
        let d = authorize("node.event", "operator", &scopes(&["operator.admin"]));
        assert!(matches!(&d, Err(Denied::Role(r)) if r == "operator"));
        let d = authorize("device.pair.list", "node", &[]).unwrap_err();
        assert!(matches!(&d, Denied::Role(r) if r == "node"));
        assert_eq!(d.answer().message, "unauthorized role: node");
        let d = authorize("device.pair.list", "operator", &scopes(&["operator.read"]));
        assert!(matches!(d, Err(Denied::MissingScope("operator.pairing"))));
        assert!(authorize(
            "device.pair.approve",
            "operator",
            &scopes(&["operator.pairing"])
        )
        .is_ok());
        let d = authorize("config.get", "operator", &scopes(&["operator.pairing"])).unwrap_err();
        assert_eq!(d.answer().message, "missing scope: operator.admin");
        assert!(authorize("config.get", "operator", &scopes(&["operator.admin"])).is_ok());
    }

    #[test]
    fn authorize_v4_names_what_is_not_offered() {
        for m in [
            "node.event",
            "node.skills.update",
            "node.pluginTools.update",
            "node.runnerInventory.update",
        ] {
            assert!(authorize_v4(m, "node", &[]).is_ok(), "{m}");
        }
        let d = authorize_v4("node.pair.list", "operator", &scopes(&["operator.admin"]));
        assert_eq!(
            d.unwrap_err().answer().message,
            "unknown method: node.pair.list"
        );
        let d = authorize_v4("chat.send", "node", &[]).unwrap_err();
        assert_eq!(d.answer().message, "unknown method: chat.send");
        let d = authorize_v4("device.pair.list", "node", &[]).unwrap_err();
        assert_eq!(d.answer().message, "unauthorized role: node");
        let d = authorize_v4(
            "device.pair.rename",
            "operator",
            &scopes(&["operator.read"]),
        );
        assert!(matches!(d, Err(Denied::MissingScope("operator.pairing"))));
        assert!(authorize_v4(
            "device.pair.rename",
            "operator",
            &scopes(&["operator.admin"])
        )
        .is_ok());
    }
}
