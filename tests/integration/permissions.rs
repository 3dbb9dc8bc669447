//! The permission matrix: every client message type the protocol lists, from each role,
//! before and after joining. The table is matched on the protocol's own list of types
//! (`ClientMsg::TYPES`), so a new message cannot be added without deciding who may send
//! it here.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkstick_signaling::protocol::{ClientMsg, Role, Settings};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, Server, WAIT, connect};

/// Who may send a message once joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum May {
    /// Anyone who has joined.
    Everyone,
    /// Facilitators only; learners get `forbidden`.
    Facilitators,
    /// Only as the first message: once joined, `already_joined`.
    BeforeJoining,
}

/// The matrix's rows: every type of `ClientMsg::TYPES`, each with who may send it.
fn who_may(kind: &str) -> May {
    match kind {
        "join" => May::BeforeJoining,
        "raise_hand" | "lower_hand" | "accept_floor" | "decline_floor" | "defer_floor"
        | "yield" | "react" | "set_mic" | "set_away" | "set_push_to_talk" | "leave" | "ping"
        | "rtc_offer" | "ask_to_unmute" | "chat" | "ask_for_help" | "withdraw_help"
        | "choose_group" => May::Everyone,
        "grant" | "next" | "revoke" | "open_discussion" | "move_hand" | "remove_hand"
        | "clear_hands" | "mute" | "unmute" | "mute_all" | "unmute_all" | "update_settings"
        | "get_stats" | "remove_participant" | "delete_chat" | "end_session" | "open_breakouts"
        | "move_to_group" | "close_group" | "close_breakouts" | "breakout_notice"
        | "set_group_lead" | "answer_help" => May::Facilitators,
        other => panic!("the permission matrix has no row for `{other}`: add one"),
    }
}

/// A well-formed message of `kind` naming `other` where it names someone.
fn sample(kind: &str, token: &str, other: u64) -> Value {
    match kind {
        "join" => json!({"type": "join", "v": 1, "token": token}),
        "raise_hand" => json!({"type": kind, "kind": "new_point", "note": "a point"}),
        "react" => json!({"type": kind, "reaction": "agree"}),
        "set_mic" => json!({"type": kind, "on": false}),
        "set_away" => json!({"type": kind, "away": true}),
        "set_push_to_talk" => json!({"type": kind, "enabled": true}),
        "grant" | "remove_hand" | "mute" | "unmute" | "remove_participant" => {
            json!({"type": kind, "participant": other})
        }
        "move_hand" => json!({"type": kind, "participant": other, "position": 1}),
        "update_settings" => json!({"type": kind, "settings": {"policy": "balanced"}}),
        "rtc_offer" => json!({"type": kind, "sdp": "v=0"}),
        "chat" => json!({"type": kind, "text": "hello"}),
        "delete_chat" => json!({"type": kind, "message": 1}),
        "open_breakouts" => json!({"type": kind, "groups": 2}),
        "move_to_group" | "set_group_lead" => {
            json!({"type": kind, "participant": other, "group": 1, "lead": true})
        }
        "close_group" | "answer_help" | "choose_group" => json!({"type": kind, "group": 1}),
        "breakout_notice" => json!({"type": kind, "text": "five minutes"}),
        "close_breakouts" => json!({"type": kind, "in_s": 30}),
        _ => json!({"type": kind}),
    }
}

/// Sends `msg` with id 77 and returns the error it caused, if any, within a moment
/// (a ping after it proves the server has handled it).
async fn outcome(ws: &mut crate::common::WsStream, mut msg: Value) -> Option<Value> {
    msg["id"] = json!(77);
    ws.send(Message::text(msg.to_string())).await.unwrap();
    ws.send(Message::text(r#"{"type":"ping","id":78}"#)).await.unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next()).await.expect("an answer");
        let Some(Ok(Message::Text(t))) = frame else { return None }; // closed (leave)
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v["type"].as_str() {
            Some("error") if v["re"] == 77 => return Some(v),
            Some("pong") => return None,
            Some("error") if v["re"] == 78 => return None, // pong refused before joining
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_from_every_role_before_and_after_joining() {
    let server = Server::with_settings(Settings::default()).await;
    let mut rows = 0;
    for (k, kind) in ClientMsg::TYPES.iter().enumerate() {
        let may = who_may(kind);
        for role in [Role::Learner, Role::Facilitator] {
            let room = format!("perm-{k}-{role:?}");
            let token = server.token(&room, "Actor", role);
            // Before joining: only `join` is read; anything else is `not_joined`.
            let mut ws = connect(server.addr).await;
            let err = outcome(&mut ws, sample(kind, &token, 1)).await;
            let code = err.as_ref().map(|e| e["code"].clone());
            if may == May::BeforeJoining {
                assert_eq!(code, None, "{kind} before joining, as {role:?}: {err:?}");
            } else {
                assert_eq!(code, Some(json!("not_joined")), "{kind} before joining, as {role:?}");
            }
            // Joined, with someone else in the room.
            let other = Client::join(&server, &room, "Other", Role::Learner).await;
            let mut me = Client::join_with(server.addr, &token, "Actor", None).await;
            let err = outcome(&mut me.ws, sample(kind, &token, other.id)).await;
            let code = err.as_ref().map(|e| e["code"].as_str().unwrap().to_owned());
            let expected = match (may, role) {
                (May::BeforeJoining, _) => Some("already_joined"),
                (May::Facilitators, Role::Learner) => Some("forbidden"),
                _ => None,
            };
            match expected {
                Some(want) => assert_eq!(code.as_deref(), Some(want), "{kind} as {role:?}"),
                // Allowed: it may still be refused for the room's state (no hand to
                // lower, no offer to accept…), never for who sent it.
                None => assert!(
                    !matches!(code.as_deref(), Some("forbidden" | "not_joined" | "already_joined")),
                    "{kind} as {role:?} was refused for who sent it: {err:?}"
                ),
            }
            rows += 1;
        }
    }
    assert_eq!(rows, 2 * ClientMsg::TYPES.len());
}
