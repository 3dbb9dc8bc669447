//! Breakout groups against a real server: a plenary splits into group rooms that admit
//! only whom the plenary put there, each with its own queue; people move; everyone comes
//! back with their plenary hand; 40 people go into seven groups and back within 2 s;
//! the assignment survives a crash of the server, and the plenary's report shows each
//! group's talk time and turns.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use talkstick::token::unix_now;
use talkstick_signaling::protocol::Role;
use tokio_tungstenite::tungstenite::Message;

use crate::binary::{Proc, api, json_of, scratch};
use crate::common::{Client, Server, View, WAIT, connect, token_for};

/// One person: their plenary connection and, while in a group, their group connection.
struct Person {
    token: String,
    plenary: Client,
    group: Option<(String, Client)>,
}

/// Joins `group` with `token` as a page does (a second connection, the same link).
async fn join_group(
    addr: SocketAddr,
    token: &str,
    name: &str,
    group: &str,
    listen: bool,
) -> Result<Client, Value> {
    let join = json!({"type": "join", "v": 1, "token": token, "group": group, "listen": listen});
    Client::join_msg(addr, &format!("{name}@{group}"), join).await
}

/// Reads a plenary connection until its `breakouts` satisfies `pred`; the last one.
async fn breakouts_until(c: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    let start = c.log.iter().rev().find(|m| m["type"] == "breakouts").cloned();
    if let Some(b) = start.filter(|m| pred(&m["breakouts"])) {
        return b["breakouts"].clone();
    }
    loop {
        let m = c.next_of("breakouts").await;
        if pred(&m["breakouts"]) {
            return m["breakouts"].clone();
        }
    }
}

/// The group room `me` is in, by the plenary's word.
fn my_group(b: &Value, me: u64) -> Option<String> {
    b["groups"]
        .as_array()?
        .iter()
        .find(|g| g["open"] == true && g["members"].as_array().unwrap().iter().any(|m| m == me))
        .map(|g| g["room"].as_str().unwrap().to_owned())
}

/// Everyone follows the plenary into their group, as the page does.
async fn follow(addr: SocketAddr, people: &mut [Person], b: &Value) {
    for p in people.iter_mut() {
        let room = my_group(b, p.plenary.id).expect("everyone is placed");
        let c = join_group(addr, &p.token, &p.plenary.name, &room, false).await.expect("admitted");
        p.group = Some((room, c));
    }
}

/// Reads until the connection closes; its close code (`None`: closed without one).
async fn closed_with(c: &mut Client) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = tokio::time::timeout(left, futures_util::StreamExt::next(&mut c.ws))
            .await
            .unwrap_or_else(|_| panic!("{}: not closed within {WAIT:?}", c.name));
        match frame {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

async fn plenary(server: &Server, room: &str, learners: usize) -> (Person, Vec<Person>) {
    let exp = unix_now() + 3600;
    let ftoken = token_for(room, "Fran", Role::Facilitator, exp);
    let fac = Client::join_with(server.addr, &ftoken, "Fran", None).await;
    let mut people = Vec::new();
    for i in 0..learners {
        let name = format!("Learner {i:02}");
        let token = token_for(room, &name, Role::Learner, exp);
        let plenary = Client::join_with(server.addr, &token, &name, None).await;
        people.push(Person { token, plenary, group: None });
    }
    (Person { token: ftoken, plenary: fac, group: None }, people)
}

#[tokio::test]
async fn twelve_learners_split_into_two_groups_each_with_its_own_queue_and_come_back() {
    let server = Server::start().await;
    let (mut fran, mut people) = plenary(&server, "course", 12).await;
    // A plenary hand, for coming back to.
    let keeper = people[11].plenary.id;
    people[11].plenary.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    fran.plenary.until("the hand", |v| v.queue == [keeper]).await;

    // A learner may not open; the facilitator's bad plans are refused.
    people[0].plenary.send(json!({"type": "open_breakouts", "groups": 2, "id": 1})).await;
    let e = people[0].plenary.next_of("error").await;
    assert_eq!((e["code"].as_str(), e["re"].as_u64()), (Some("forbidden"), Some(1)), "{e}");
    for (id, bad) in [
        (2, json!({"groups": 1})),
        (3, json!({"groups": 21})),
        (4, json!({"groups": 2, "size": 3})),
    ] {
        let mut msg = bad.clone();
        msg["type"] = json!("open_breakouts");
        msg["id"] = json!(id);
        fran.plenary.send(msg).await;
        let e = fran.plenary.next_of("error").await;
        assert_eq!(
            (e["code"].as_str(), e["re"].as_u64()),
            (Some("invalid_breakouts"), Some(id)),
            "{e}"
        );
    }

    fran.plenary
        .send(json!({"type": "open_breakouts", "groups": 2, "names": ["Pricing", "Onboarding"]}))
        .await;
    let b = breakouts_until(&mut fran.plenary, |b| !b.is_null()).await;
    assert_eq!(b["groups"][0]["name"], "Pricing");
    for p in &mut people {
        let mine = breakouts_until(&mut p.plenary, |b| !b.is_null()).await;
        assert_eq!(mine, b, "everyone is told the same groups");
    }
    follow(server.addr, &mut people, &b).await;
    let rooms: Vec<String> = b["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["room"].as_str().unwrap().to_owned())
        .collect();
    // Each group room holds its six, with their plenary colours.
    for p in &mut people {
        let (room, g) = p.group.as_mut().unwrap();
        g.until("six in the group", |v| v.participants.len() == 6).await;
        let plenary_colour = p.plenary.view.participants[&p.plenary.id]["colour"].clone();
        assert_eq!(g.view.participants[&g.id]["colour"], plenary_colour, "{room}");
    }
    // A hand in group 1 is seen there, not in group 2.
    let (in1, in2): (Vec<usize>, Vec<usize>) =
        (0..12).partition(|i| people[*i].group.as_ref().unwrap().0 == rooms[0]);
    let raiser = in1[0];
    let gid = people[raiser].group.as_ref().unwrap().1.id;
    people[raiser]
        .group
        .as_mut()
        .unwrap()
        .1
        .send(json!({"type": "raise_hand", "kind": "new_point"}))
        .await;
    for i in &in1 {
        people[*i].group.as_mut().unwrap().1.until("the group's hand", |v| v.queue == [gid]).await;
    }
    let other = &mut people[in2[0]].group.as_mut().unwrap().1;
    other.ping().await;
    assert!(other.view.queue.is_empty(), "group 2's queue is its own");

    // Nobody gets into a group they are not in, nor with another plenary's link.
    let stranger = &people[in2[1]];
    let e = join_group(server.addr, &stranger.token, "x", &rooms[0], false)
        .await
        .err()
        .expect("refused");
    assert_eq!(e["code"], "not_in_group", "{e}");
    let elsewhere = token_for("other", "Eve", Role::Learner, unix_now() + 60);
    let e =
        join_group(server.addr, &elsewhere, "Eve", &rooms[0], false).await.err().expect("refused");
    assert_eq!(e["code"], "not_in_group", "{e}");
    let forged = token_for(&rooms[0], "Eve", Role::Facilitator, unix_now() + 60);
    let mut ws = connect(server.addr).await;
    ws.send(Message::text(json!({"type": "join", "v": 1, "token": forged}).to_string()))
        .await
        .unwrap();
    let mut c = Client {
        name: "forged".into(),
        ws,
        id: 0,
        resume: String::new(),
        view: View::default(),
        last_seq: 0,
        log: vec![],
    };
    assert_eq!(c.next_of("error").await["code"], "bad_token", "a link never names a group room");

    // The facilitator listens in on group 1: present there, never heard.
    let mut listening =
        join_group(server.addr, &fran.token, "Fran", &rooms[0], true).await.unwrap();
    let me = listening.view.participants[&listening.id].clone();
    assert_eq!(
        (me["role"].as_str(), me["listening"].as_bool()),
        (Some("facilitator"), Some(true)),
        "{me}"
    );
    let fran_in_1 = listening.id;
    people[in1[1]]
        .group
        .as_mut()
        .unwrap()
        .1
        .until("Fran present", |v| v.participants.contains_key(&fran_in_1))
        .await;

    // One learner moves to group 2: out of group 1's room (4005), into group 2's.
    let mover = in1[2];
    let mover_id = people[mover].plenary.id;
    fran.plenary.send(json!({"type": "move_to_group", "participant": mover_id, "group": 2})).await;
    let b = breakouts_until(&mut people[mover].plenary, |b| {
        my_group(b, mover_id).as_deref() == Some(rooms[1].as_str())
    })
    .await;
    assert_eq!(my_group(&b, mover_id).unwrap(), rooms[1]);
    let (_, old) = people[mover].group.as_mut().unwrap();
    assert_eq!(closed_with(old).await, Some(4005));
    let moved = join_group(server.addr, &people[mover].token, "m", &rooms[1], false)
        .await
        .expect("into group 2");
    people[mover].group = Some((rooms[1].clone(), moved));
    let e = join_group(server.addr, &people[mover].token, "m", &rooms[0], false)
        .await
        .err()
        .expect("refused");
    assert_eq!(e["code"], "not_in_group");

    // A text notice reaches everyone on their plenary connection.
    fran.plenary.send(json!({"type": "breakout_notice", "text": "Five minutes"})).await;
    for p in &mut people {
        let n = p.plenary.next_of("notice").await;
        assert_eq!(
            (n["kind"].as_str(), n["message"].as_str()),
            (Some("breakout"), Some("Fran: Five minutes"))
        );
    }

    // Call everyone back with a second's countdown: everyone is told and the groups run
    // on until it ends; then every group connection closes, the plenary hand still up.
    let asked = Instant::now();
    fran.plenary.send(json!({"type": "close_breakouts", "in_s": 1})).await;
    for p in &mut people {
        let n = p.plenary.next_of("notice").await;
        assert_eq!(n["message"], "Back to the plenary in 1 second: please finish up.");
        let b = breakouts_until(&mut p.plenary, |b| b["closes_ms"].is_u64()).await;
        assert!(my_group(&b, p.plenary.id).is_some(), "still in a group during the countdown");
    }
    for p in &mut people {
        let n = p.plenary.next_of("notice").await;
        assert_eq!(n["message"], "Everyone is back in the plenary.");
        breakouts_until(&mut p.plenary, Value::is_null).await;
        assert!(asked.elapsed() >= Duration::from_secs(1), "not before the countdown ended");
        let (room, g) = p.group.as_mut().unwrap();
        assert_eq!(closed_with(g).await, Some(4005), "{room}");
        p.plenary.ping().await;
        assert_eq!(p.plenary.view.queue, [keeper], "the plenary hand waited");
    }
    assert_eq!(closed_with(&mut listening).await, Some(4005));
    let e = join_group(server.addr, &people[0].token, "x", &rooms[0], false)
        .await
        .err()
        .expect("refused");
    assert_eq!(e["code"], "not_in_group", "no group admits anyone after the call-back");
}

#[tokio::test]
async fn forty_people_go_into_seven_groups_and_back_within_two_seconds() {
    let server = Server::start().await;
    let (mut fran, mut people) = plenary(&server, "plenary40", 39).await;
    let opened = Instant::now();
    fran.plenary.send(json!({"type": "open_breakouts", "groups": 7, "assign": "balanced"})).await;
    // Every page hears, follows, and is welcomed in its group (one after another here;
    // real pages do it side by side).
    let mut b = Value::Null;
    for p in &mut people {
        b = breakouts_until(&mut p.plenary, |b| !b.is_null()).await;
    }
    follow(server.addr, &mut people, &b).await;
    let into = opened.elapsed();
    let sizes: Vec<usize> = b["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 39);
    assert!(sizes.iter().all(|s| (5..=6).contains(s)), "{sizes:?}");
    let mut placed = BTreeMap::new();
    for p in &people {
        *placed.entry(p.group.as_ref().unwrap().0.clone()).or_insert(0) += 1;
    }
    assert_eq!(placed.len(), 7);

    let back = Instant::now();
    fran.plenary.send(json!({"type": "close_breakouts"})).await;
    for p in &mut people {
        breakouts_until(&mut p.plenary, Value::is_null).await;
        let (_, g) = p.group.as_mut().unwrap();
        assert_eq!(closed_with(g).await, Some(4005));
    }
    let returned = back.elapsed();
    eprintln!("40 people: into 7 groups in {into:?}, all back in {returned:?}");
    assert!(into < Duration::from_secs(2), "into groups took {into:?}");
    assert!(returned < Duration::from_secs(2), "back took {returned:?}");
}

#[tokio::test]
async fn the_groups_survive_a_crash_of_the_server() {
    let dir = scratch("breakout-crash");
    let server = Proc::start(&dir, 0).await;
    let addr = server.addr;
    let exp = unix_now() + 3600;
    let ftoken = token_for("crash", "Fran", Role::Facilitator, exp);
    let mut fran = Client::join_with(addr, &ftoken, "Fran", None).await;
    let mut people = Vec::new();
    for name in ["Aino", "Bertil", "Chen", "Dalia"] {
        let token = token_for("crash", name, Role::Learner, exp);
        let plenary = Client::join_with(addr, &token, name, None).await;
        people.push(Person { token, plenary, group: None });
    }
    fran.send(json!({"type": "open_breakouts", "groups": 2})).await;
    let b = breakouts_until(&mut fran, |b| !b.is_null()).await;
    for p in &mut people {
        breakouts_until(&mut p.plenary, |b| !b.is_null()).await;
    }
    follow(addr, &mut people, &b).await;
    for p in &mut people {
        p.group.as_mut().unwrap().1.until("both here", |v| v.participants.len() == 2).await;
    }

    server.kill().await;
    let mut server = Proc::start(&dir, addr.port()).await;
    server.printed("Restored").await;
    // A page coming back reads its group from the plenary's welcome and goes straight
    // there, as the same person in the same group.
    for p in &mut people {
        let back =
            Client::join_with(server.addr, &p.token, &p.plenary.name, Some(&p.plenary.resume))
                .await;
        assert_eq!(back.id, p.plenary.id);
        let again = &back.log[0]["room"]["breakouts"];
        assert_eq!(
            my_group(again, back.id),
            my_group(&b, back.id),
            "the same group after the crash"
        );
        let (room, old) = p.group.take().unwrap();
        let g = join_group(server.addr, &p.token, &p.plenary.name, &room, false)
            .await
            .expect("admitted again");
        assert_eq!(g.id, old.id, "the same person in the group's room");
        p.group = Some((room, g));
        p.plenary = back;
    }

    // A turn in one group (the floor is offered at once: auto-offer), then everyone back.
    let (room0, g0) = people[0].group.as_mut().unwrap();
    let room0 = room0.clone();
    g0.send(json!({"type": "raise_hand", "kind": "new_point"})).await;
    g0.next_of("youre_up").await;
    g0.send(json!({"type": "accept_floor"})).await;
    let me = g0.id;
    g0.until("holding", |v| v.holder() == Some(me)).await;
    g0.send(json!({"type": "yield"})).await;
    g0.until("yielded", |v| v.holder().is_none()).await;
    let mut fran = Client::join_with(server.addr, &ftoken, "Fran", Some(&fran.resume)).await;
    fran.send(json!({"type": "close_breakouts"})).await;
    breakouts_until(&mut fran, Value::is_null).await;
    // The plenary's report shows each group: its name, its people, its turns.
    let (status, body) = api(server.addr, "GET", "/api/sessions", Some(&ftoken)).await;
    assert_eq!(status, 200, "{body}");
    let run = json_of(&body)["sessions"][0]["run"].as_i64().unwrap();
    let (status, body) =
        api(server.addr, "GET", &format!("/api/sessions/{run}"), Some(&ftoken)).await;
    assert_eq!(status, 200, "{body}");
    let report = json_of(&body);
    assert_eq!(report["breakouts"].as_array().map(Vec::len), Some(1), "{report}");
    let groups = report["groups"].as_array().expect("the groups' sessions");
    assert_eq!(groups.len(), 2, "{report}");
    let g = groups.iter().find(|g| g["room"] == room0.as_str()).unwrap();
    assert_eq!(
        (g["turns"].as_u64(), g["people"].as_array().map(Vec::len)),
        (Some(1), Some(2)),
        "{g}"
    );
    let turns_elsewhere =
        groups.iter().find(|g| g["room"] != room0.as_str()).unwrap()["turns"].as_u64();
    assert_eq!(turns_elsewhere, Some(0));
    // A learner reads no report, of the plenary or of a group.
    let (status, _) =
        api(server.addr, "GET", &format!("/api/sessions/{run}"), Some(&people[0].token)).await;
    assert_eq!(status, 403);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A whole course as people live it: three rounds of groups, and in each some people
/// lose their connection (both of them) and come back with their resume token, one is
/// moved, then everyone is called back. Nobody ever becomes someone else, comes back
/// anywhere but where the plenary put them, or is left admitted to a closed group.
#[tokio::test]
async fn three_rounds_with_dropped_connections_keep_everyone_in_their_place() {
    let server = Server::start().await;
    let (mut fran, mut people) = plenary(&server, "course-day", 12).await;
    let ids: Vec<u64> = people.iter().map(|p| p.plenary.id).collect();
    let mut seen_rooms = Vec::new();
    for round in 1..=3u64 {
        let assign = ["random", "balanced", "random"][round as usize - 1];
        fran.plenary.send(json!({"type": "open_breakouts", "groups": 3, "assign": assign})).await;
        let b = breakouts_until(&mut fran.plenary, |b| b["round"] == round).await;
        for p in &mut people {
            breakouts_until(&mut p.plenary, |b| b["round"] == round).await;
        }
        follow(server.addr, &mut people, &b).await;
        // Three people lose both connections and come back within the grace period.
        for k in [0usize, 5, 10] {
            let k = (k + round as usize) % people.len();
            let p = &mut people[k];
            let (room, group) = p.group.take().unwrap();
            let group_id = group.id;
            drop(group);
            let resume = p.plenary.resume.clone();
            let back =
                Client::join_with(server.addr, &p.token, &p.plenary.name, Some(&resume)).await;
            assert_eq!(back.id, ids[k], "round {round}: the same plenary identity");
            let told = my_group(&back.log[0]["room"]["breakouts"], back.id);
            assert_eq!(told.as_deref(), Some(room.as_str()), "round {round}: told the same group");
            p.plenary = back;
            let g = join_group(server.addr, &p.token, "x", &room, false).await.expect("admitted");
            assert_eq!(g.id, group_id, "round {round}: the same person in the group");
            p.group = Some((room, g));
        }
        // One person moves to the next group; their old group's room lets them go.
        let mover = (round as usize * 4) % people.len();
        let from = my_group(&b, ids[mover]).unwrap();
        let from_no = b["groups"]
            .as_array()
            .unwrap()
            .iter()
            .position(|g| g["room"] == from.as_str())
            .unwrap();
        let to_no = (from_no + 1) % 3 + 1;
        fran.plenary
            .send(json!({"type": "move_to_group", "participant": ids[mover], "group": to_no}))
            .await;
        let moved = breakouts_until(&mut people[mover].plenary, |b| {
            my_group(b, ids[mover]).is_some_and(|g| g != from)
        })
        .await;
        let (_, old) = people[mover].group.as_mut().unwrap();
        assert_eq!(closed_with(old).await, Some(4005));
        let to = my_group(&moved, ids[mover]).unwrap();
        let g =
            join_group(server.addr, &people[mover].token, "m", &to, false).await.expect("moved in");
        people[mover].group = Some((to, g));
        // Everyone back.
        fran.plenary.send(json!({"type": "close_breakouts"})).await;
        for p in &mut people {
            breakouts_until(&mut p.plenary, Value::is_null).await;
            let (room, g) = p.group.as_mut().unwrap();
            assert_eq!(closed_with(g).await, Some(4005), "round {round}: {room}");
            p.group = None;
            p.plenary.ping().await;
            assert_eq!(
                p.plenary.view.participants.len(),
                13,
                "round {round}: all 13 in the plenary"
            );
        }
        for g in b["groups"].as_array().unwrap() {
            let room = g["room"].as_str().unwrap().to_owned();
            let e = join_group(server.addr, &people[0].token, "x", &room, false).await.err();
            assert_eq!(e.expect("refused")["code"], "not_in_group", "{room} admits nobody now");
            seen_rooms.push(room);
        }
    }
    // Each round had rooms of its own; and nobody ever became someone else.
    seen_rooms.sort();
    seen_rooms.dedup();
    assert_eq!(seen_rooms.len(), 9);
    let now: Vec<u64> = people.iter().map(|p| p.plenary.id).collect();
    assert_eq!(now, ids);
}
