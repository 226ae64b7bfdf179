//! The store with several writers at once (as several nodes would be): sequence numbers stay
//! unique and gap-free per room. Opening a database from before look-alike checks fills in
//! room name skeletons. Runs on this suite's backend (SQLite, or PostgreSQL with
//! `NATTER_TEST_BACKEND=postgres`).

use std::sync::Arc;

use natter::domain::{Retention, RoomId, RoomKind, Sender, UserId};
use natter::store::{Entry, NewMessage, NewRoom, NewUser, Store};

use crate::helpers::{count_rows_at, fresh_database};

async fn user(store: &Arc<dyn Store>, name: &str) -> natter::domain::User {
    let row = NewUser {
        id: UserId::generate(),
        username: name.into(),
        username_key: name.to_lowercase(),
        display_name: name.into(),
        password_hash: "x".into(),
        is_admin: false,
    };
    store.create_user(row).await.unwrap()
}

fn public_room(owner: &natter::domain::User, name: &str) -> NewRoom {
    NewRoom {
        id: RoomId::generate(),
        name: name.into(),
        name_key: Some(name.to_lowercase()),
        skeletons: natter::domain::name_skeletons(name),
        kind: RoomKind::Public,
        topic: String::new(),
        owner_id: owner.id.clone(),
        key_hash: None,
        history: Default::default(),
        retention: Retention::default(),
        direct: None,
        group: Vec::new(),
        seal: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_keep_seqs_gap_free() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    // Two stores on one database: two "nodes".
    let a: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let b: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let user = user(&a, "writer").await;
    let mut rooms = Vec::new();
    for name in ["one", "two", "three"] {
        let room = a.create_room(public_room(&user, name)).await.unwrap();
        rooms.push(room.id);
    }
    let sender = Sender::from(&user);
    // Each writer appends batches that touch the rooms in different orders.
    let mut tasks = Vec::new();
    for (w, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        let (rooms, sender) = (rooms.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                let mut batch = Vec::new();
                for i in 0..6 {
                    let room = &rooms[(i + round + w) % rooms.len()];
                    batch.push(NewMessage {
                        room_id: if w == 0 {
                            room.clone()
                        } else {
                            rooms[rooms.len() - 1 - (i % 3)].clone()
                        },
                        sender: sender.clone(),
                        client_id: format!("w{w}-r{round}-m{i}"),
                        body: "x".into(),
                        mentions: Vec::new(),
                        reply_to: None,
                        attachments: Vec::new(),
                        terms: None,
                    });
                }
                let batch: Vec<Entry> = batch.into_iter().map(Entry::Message).collect();
                for result in store.append(&batch).await.expect("batch commits") {
                    assert!(!result.expect("message appended").duplicate);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut total = 0;
    for room in &rooms {
        let range = natter::store::MessageRange {
            room_id: room.clone(),
            floor: 0,
            limit: 1000,
            viewer: None,
        };
        let seqs: Vec<i64> = a
            .messages_before(range, None)
            .await
            .unwrap()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "room {room}: unique and gap-free"
        );
        assert_eq!(a.room(room).await.unwrap().last_seq, seqs.len() as i64);
        total += seqs.len();
    }
    assert_eq!(total, 2 * 20 * 6);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_with_retries_repeats_a_missing_room_and_many_rooms() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let user = user(&store, "batcher").await;
    // 70 rooms: more than one chunk of rooms and of messages (chunks are 64, 16, 4, 1).
    let mut rooms = Vec::new();
    for i in 0..70 {
        let name = format!("room-{i}");
        let room = store.create_room(public_room(&user, &name)).await.unwrap();
        rooms.push(room.id);
    }
    let sender = Sender::from(&user);
    let message = |room: &RoomId, client_id: &str| NewMessage {
        room_id: room.clone(),
        sender: sender.clone(),
        client_id: client_id.into(),
        body: format!("body of {client_id}"),
        mentions: Vec::new(),
        reply_to: None,
        attachments: Vec::new(),
        terms: None,
    };
    let stored = store
        .append(&[Entry::Message(message(&rooms[0], "early"))])
        .await
        .unwrap();
    assert_eq!(stored[0].as_ref().unwrap().message().seq, 1);

    let mut batch = vec![
        message(&rooms[0], "early"), // a retry of a committed send
        message(&rooms[0], "a"),
        message(&rooms[0], "a"), // a repeat inside the batch
        message(&RoomId::generate(), "nowhere"),
        message(&rooms[0], "b"),
    ];
    for (i, room) in rooms.iter().enumerate() {
        batch.push(message(room, &format!("r{i}")));
    }
    batch.push(message(&rooms[0], "early")); // the retry again, in a later chunk
    let last = batch.len() - 1;
    let batch: Vec<Entry> = batch.into_iter().map(Entry::Message).collect();
    let results = store.append(&batch).await.unwrap();
    let ok = |i: usize| results[i].as_ref().unwrap();
    assert!(ok(0).duplicate && ok(0).message().seq == 1 && ok(0).message().body == "body of early");
    assert!(!ok(1).duplicate && ok(1).message().seq == 2);
    assert!(ok(2).duplicate && ok(2).message().seq == 2);
    assert!(matches!(
        results[3],
        Err(natter::store::StoreError::NotFound)
    ));
    assert_eq!(ok(4).message().seq, 3);
    assert_eq!(ok(5).message().seq, 4, "room 0's messages keep batch order");
    for i in 1..rooms.len() {
        assert_eq!((ok(5 + i).message().seq, ok(5 + i).duplicate), (1, false));
    }
    assert!(ok(last).duplicate && ok(last).message().seq == 1);
    // What was returned is what was stored.
    assert_eq!(store.room(&rooms[0]).await.unwrap().last_seq, 4);
    let again = store.append(&batch[5..last]).await.unwrap();
    assert!(again.iter().all(|r| r.as_ref().unwrap().duplicate));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_stop_at_ten_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let mut users = Vec::new();
    for name in ["talker", "reader"] {
        let user = user(&store, name).await;
        users.push(user);
    }
    let room = store
        .create_room(public_room(&users[0], "Busy"))
        .await
        .unwrap()
        .id;
    store
        .add_member(&room, &users[1].id, natter::domain::Role::Member)
        .await
        .unwrap();
    let sender = Sender::from(&users[0]);
    let unread = || async {
        let rooms = store.rooms_of(&users[1].id).await.unwrap();
        rooms[0].2.messages
    };
    let mut sent = 0;
    for round in 0..21 {
        let batch: Vec<Entry> = (0..500)
            .map(|i| NewMessage {
                room_id: room.clone(),
                sender: sender.clone(),
                client_id: format!("m{round}-{i}"),
                body: "hello".into(),
                mentions: Vec::new(),
                reply_to: None,
                attachments: Vec::new(),
                terms: None,
            })
            .map(Entry::Message)
            .collect();
        store.append(&batch).await.unwrap();
        sent += 500;
        if sent == 9_500 {
            assert_eq!(unread().await, 9_500, "counted exactly below the cap");
        }
    }
    assert_eq!(unread().await, 10_000, "at most 10,000 of {sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_from_before_skeletons_get_them_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let owner = user(&store, "owner").await;
    let other = user(&store, "other").await;
    // Rooms as they were made before look-alikes were checked: no skeletons, so "Genera1"
    // could be created beside the older "General".
    for name in ["General", "Genera1", "Other"] {
        let old = NewRoom {
            skeletons: Vec::new(),
            ..public_room(&owner, name)
        };
        store.create_room(old).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut pair = [owner.id.clone(), other.id.clone()];
    pair.sort();
    let direct = NewRoom {
        name_key: None,
        kind: RoomKind::Direct,
        direct: Some(pair),
        skeletons: Vec::new(),
        ..public_room(&owner, "owner, other")
    };
    store.create_room(direct).await.unwrap();
    store.close().await;

    for _ in 0..2 {
        // Filled at the first open; the second finds nothing new to do.
        let store = open_store(dir.path(), &url).await.unwrap();
        let mut held = Vec::new();
        for name in ["General", "Genera1", "Other", "owner, other"] {
            let sql = format!(
                "select count(*) from room_skeletons s join rooms r on r.id = s.room_id \
                 where r.name = '{name}'"
            );
            held.push(count_rows_at(&url, &sql).await);
        }
        assert_eq!(
            held,
            [2, 0, 2, 0],
            "the older look-alike holds the skeletons"
        );
        for alike in ["G\u{0435}neral", "0ther"] {
            let refused = store.create_room(public_room(&owner, alike)).await;
            assert!(
                matches!(refused, Err(natter::store::StoreError::Conflict(_))),
                "{alike:?}"
            );
        }
        store.close().await;
    }
}

/// Mentions are looked up among a room's members: case-folded names, members only, repeats
/// and padding harmless, one statement whatever the count (at most 64 distinct names).
#[tokio::test]
async fn members_are_found_by_name_for_mentions() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let store: Arc<dyn Store> = open_store(dir.path(), &url).await.unwrap();
    let ana = user(&store, "Ana").await;
    let bob = user(&store, "bob").await;
    let outsider = user(&store, "cleo").await;
    let room = store
        .create_room(public_room(&ana, "Mentions"))
        .await
        .unwrap();
    store
        .add_member(&room.id, &bob.id, natter::domain::Role::Member)
        .await
        .unwrap();
    let named = |keys: Vec<String>| {
        let store = store.clone();
        let room = room.id.clone();
        async move {
            let mut found = store.members_named(&room, &keys).await.unwrap();
            found.sort();
            found
        }
    };
    let found = named(vec![
        "ana".into(),
        "bob".into(),
        "bob".into(),
        "cleo".into(),
    ])
    .await;
    assert_eq!(
        found,
        [
            ("ana".to_owned(), ana.id.clone(), "Ana".to_owned()),
            ("bob".to_owned(), bob.id.clone(), "bob".to_owned())
        ],
        "members only ({} is not one), each once",
        outsider.username
    );
    // Many names (more than one chunk's worth, with repeats): one statement, the members found.
    let mut many: Vec<String> = (0..100).map(|i| format!("nobody{i:03}")).collect();
    many.extend(["bob".to_owned(), "ana".to_owned(), "bob".to_owned()]);
    many.sort();
    let found = named(many).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(named(Vec::new()).await.is_empty());
}

/// Opens the store at `url` as a server with `dir` as its data directory would (its master key
/// and key store there).
async fn open_store(dir: &std::path::Path, url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let config = natter::config::Config {
        data_dir: dir.to_owned(),
        database_url: Some(url.to_owned()),
        ..Default::default()
    };
    natter::store::open(&config).await
}
