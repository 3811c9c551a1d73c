//! The node methods of protocol 4: `node.event` and the publications a
//! 2026.9.6 node host makes after `hello-ok` (accepted, nothing kept).

use super::*;

/// `node.event` in protocol 4: accepted and ignored (`handled:false`).
pub(super) fn node_event(params: Option<&Value>) -> Value {
    let event = params
        .and_then(|p| p.get("event"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({"ok": true, "event": event, "handled": false, "reason": "ignored"})
}

/// A 2026.9.6 node host's publications after `hello-ok`, accepted with the
/// answers of 2026.9.6 (`{nodeId}`, `{nodeId, skills}`, `{nodeId, tools}`);
/// nothing is kept.
pub(super) fn node_publication(c: &Caller, method: &str, params: Option<&Value>) -> Value {
    let node_id = c.node_id.clone().unwrap_or_default();
    let list = |k: &str| {
        params
            .and_then(|p| p.get(k))
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or_else(|| json!([]))
    };
    match method {
        "node.skills.update" => json!({"nodeId": node_id, "skills": list("skills")}),
        "node.pluginTools.update" => json!({"nodeId": node_id, "tools": list("tools")}),
        _ => json!({"nodeId": node_id}),
    }
}
