//! `/forget-me`: a member with times at both deployments and relays from both sides leaves,
//! and every row that names them goes at both, with the copies of their posts; their own posts
//! stay. A forged request and a hostile peer's request make nobody forgotten.

use discord_sim::{DiscordSim, Message};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{Body, MemberForget, Nonce, Snowflake};
use kakusan_testkit::federation::{Deployment, Federation, first_button, press, string};
use kakusan_testkit::{PATIENCE, eventually};
use sqlx::PgPool;

use crate::KAKUSAN;
use crate::hostile::Attacker;

/// Every row of `pool` that names `member`, by table, and the copy map (only the member's
/// posts are copied in these tests).
async fn rows_naming(pool: &PgPool, member: u64) -> [i64; 5] {
    let member = member as i64;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(member)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    [
        count("SELECT count(*) FROM times WHERE member_id = $1").await,
        count("SELECT count(*) FROM destinations WHERE member_id = $1").await,
        count("SELECT count(*) FROM copies WHERE $1 IS NOT NULL").await,
        count("SELECT count(*) FROM outbox_jobs WHERE member_id = $1").await,
        count("SELECT count(*) FROM forget_requests WHERE member_id = $1").await,
    ]
}

/// The live posts in `channel` whose text starts with `prefix`.
fn posts(sim: &DiscordSim, channel: u64, prefix: &str) -> Vec<Message> {
    sim.messages(channel)
        .into_iter()
        .filter(|m| !m.deleted && m.webhook_id.is_some() && m.content.starts_with(prefix))
        .collect()
}

/// Hanako's `/here` at `side`, in her times there.
async fn here_at(federation: &Federation, side: &Deployment, text: &str) -> String {
    side.invoke(
        &federation.sim,
        side.times,
        federation.hanako,
        "here",
        vec![("message", string(text))],
    )
    .await
    .content
}

/// Hanako runs `/forget-me` at `side` and confirms; returns the report.
async fn forget_me(federation: &Federation, side: &Deployment) -> String {
    let (sim, hanako) = (&federation.sim, federation.hanako);
    let confirm = side
        .invoke(sim, side.times, hanako, "forget-me", vec![])
        .await;
    assert!(
        confirm.content.contains("cannot be undone"),
        "{}",
        confirm.content
    );
    let button = first_button(&confirm);
    let refused = press(sim, confirm.id, side.admin, &button).await;
    assert!(refused.contains("Only the member"), "{refused}");
    press(sim, confirm.id, hanako, &button).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_me_erases_the_member_at_both_sides_and_nobody_else_can_make_us_forget_them() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta, hanako) = (
        &federation.sim,
        &federation.alpha,
        &federation.beta,
        federation.hanako,
    );
    let card_beta = beta.card(sim).await;

    // Relays from both sides: two copies at beta made by alpha, one at alpha made by beta.
    for text in ["from alpha 1", "from alpha 2"] {
        let reply = here_at(&federation, alpha, text).await;
        assert_eq!(reply, "Delivered to 1 of 1 destination.");
    }
    let reply = here_at(&federation, beta, "from beta 1").await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    assert_eq!(posts(sim, beta.times, "from alpha").len(), 2);
    assert_eq!(posts(sim, alpha.times, "from beta").len(), 1);
    let before_at_beta = [1, 1, 1, 0, 0];
    eventually(PATIENCE, "the relays to be done", async || {
        let at = (
            rows_naming(&alpha.pool, hanako).await,
            rows_naming(&beta.pool, hanako).await,
        );
        if at == ([1, 1, 2, 0, 0], before_at_beta) {
            Ok(())
        } else {
            Err(format!("alpha {:?}, beta {:?}", at.0, at.1))
        }
    })
    .await;

    // A forger signs a member.forget as alpha with keys of its own: refused by the signature.
    let request = || {
        Body::MemberForget(MemberForget {
            member: Snowflake::new(hanako).unwrap(),
            request: Nonce::generate(&mut OsRng),
        })
    };
    let forger = Attacker::new(sim, "alpha", alpha.guild).await;
    forger.send(&card_beta, request()).await;
    // A hostile server that beta's admin accepted as a mutual peer asks for Hanako, a member
    // of another server: it can only make beta forget what it announced itself, which is
    // nothing.
    let gamma = Attacker::new(sim, "gamma", 424_242).await;
    let reply = federation.regserver(beta, &gamma.card.encode()).await;
    assert!(reply.contains("Registered **gamma**"), "{reply}");
    gamma.hello(&card_beta).await;
    eventually(PATIENCE, "gamma to be a mutual peer of beta", async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM peers WHERE name = 'gamma' AND mutual")
            .fetch_one(&beta.pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    gamma.send(&card_beta, request()).await;
    eventually(PATIENCE, "both requests to be handled", async || {
        let forged = beta
            .metric(r#"kakusan_envelopes_rejected_total{reason="bad_signature"}"#)
            .await?;
        let hostile = beta
            .metric(r#"kakusan_forget_requests_total{outcome="nothing_held"}"#)
            .await?;
        (forged >= 1.0 && hostile >= 1.0).then_some(())
    })
    .await;
    assert_eq!(rows_naming(&beta.pool, hanako).await, before_at_beta);
    assert_eq!(posts(sim, alpha.times, "from beta").len(), 1);

    // Hanako leaves at alpha: alpha deletes its two copies at beta, beta its copy at alpha.
    let report = forget_me(&federation, alpha).await;
    assert!(
        report.contains("2 copies of your posts are being deleted"),
        "{report}"
    );
    assert!(
        report.contains("**beta** confirmed: 1 copy deleted there"),
        "{report}"
    );
    assert!(report.contains("Your own posts"), "{report}");
    eventually(PATIENCE, "the copies to be deleted at both", async || {
        let left = (
            posts(sim, beta.times, "from alpha").len(),
            posts(sim, alpha.times, "from beta").len(),
        );
        if left == (0, 0) {
            Ok(())
        } else {
            Err(format!("{left:?} left"))
        }
    })
    .await;
    eventually(PATIENCE, "the rows to be gone", async || {
        let at = (
            rows_naming(&alpha.pool, hanako).await,
            rows_naming(&beta.pool, hanako).await,
        );
        // Beta keeps Hanako's times there until she leaves there too.
        if at == ([0; 5], [1, 0, 0, 0, 0]) {
            Ok(())
        } else {
            Err(format!("alpha {:?}, beta {:?}", at.0, at.1))
        }
    })
    .await;
    // Her times webhook at alpha is deleted; her own posts stay in both times channels.
    eventually(PATIENCE, "the times webhook to be deleted", || async {
        sim.webhooks(alpha.times).is_empty().then_some(())
    })
    .await;
    assert_eq!(posts(sim, alpha.times, "from alpha").len(), 2);
    assert_eq!(posts(sim, beta.times, "from beta").len(), 1);
    // Beta told her, in her times there, that it stays until she leaves there too.
    let notice = sim
        .wait_for_message(beta.times, PATIENCE, |m| {
            m.content.contains("/forget-me here too")
        })
        .await
        .unwrap();
    assert!(notice.content.contains("**alpha**"), "{}", notice.content);

    // She leaves at beta too. Alpha has nothing of hers left; gamma, a peer that never
    // answers, is named until it does.
    let report = forget_me(&federation, beta).await;
    assert!(
        report.contains("**alpha** confirmed: 0 copies deleted there"),
        "{report}"
    );
    assert!(
        report.contains("**gamma** has not confirmed yet"),
        "{report}"
    );
    let sharelist = beta
        .invoke(sim, beta.times, hanako, "sharelist", vec![])
        .await
        .content;
    assert!(
        sharelist.contains("not confirmed yet by gamma"),
        "{sharelist}"
    );
    eventually(
        PATIENCE,
        "nothing of hers at beta but the request",
        async || {
            let at = (
                rows_naming(&alpha.pool, hanako).await,
                rows_naming(&beta.pool, hanako).await,
            );
            if at == ([0; 5], [0, 0, 0, 0, 1]) {
                Ok(())
            } else {
                Err(format!("alpha {:?}, beta {:?}", at.0, at.1))
            }
        },
    )
    .await;
    assert_eq!(posts(sim, beta.times, "from beta").len(), 1);
    // Her times webhook at beta waits for gamma (which may still delete copies through it),
    // an hour at most.
    assert_eq!(sim.webhooks(beta.times).len(), 1);
    let later: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox_jobs
         WHERE operation = 'delete_webhook' AND scheduled_for > now() + interval '50 minutes'",
    )
    .fetch_one(&beta.pool)
    .await
    .unwrap();
    assert_eq!(later, 1);
}

/// How many copies the kill test makes: several rate-limit windows (5 per 2 s) of deletions.
const COPIES: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_cut_by_kill_9_finish_after_the_restart() {
    let mut federation = Federation::peered(KAKUSAN, false).await;
    let (alpha_times, beta_times, hanako) = (
        federation.alpha.times,
        federation.beta.times,
        federation.hanako,
    );
    for index in 0..COPIES {
        federation.alpha.start_command(
            &federation.sim,
            alpha_times,
            hanako,
            "here",
            vec![("message", string(&format!("burst {index:02}")))],
            false,
        );
    }
    let sim = &federation.sim;
    eventually(PATIENCE * 2, "every copy at beta", || async {
        (posts(sim, beta_times, "burst ").len() == COPIES).then_some(())
    })
    .await;
    eventually(PATIENCE, "the copy map to hold them all", async || {
        rows_naming(&federation.alpha.pool, hanako).await[2] == COPIES as i64
    })
    .await;

    let report = forget_me(&federation, &federation.alpha).await;
    assert!(
        report.contains(&format!("{COPIES} copies of your posts are being deleted")),
        "{report}"
    );
    // Kill alpha once the deletions are under way, well before they are done.
    eventually(PATIENCE, "the deletions to be under way", || async {
        (posts(sim, beta_times, "burst ").len() <= COPIES - 2).then_some(())
    })
    .await;
    federation.alpha.kill();
    let left = posts(&federation.sim, beta_times, "burst ").len();
    assert!(left > 0, "the kill came too late to test anything");

    federation.alpha.start(&federation.sim).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    // A lease the killed process held runs out after 10 s; then the rest go.
    eventually(PATIENCE * 2, "every copy at beta to be deleted", || async {
        let left = posts(sim, beta_times, "burst ").len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} left"))
        }
    })
    .await;
    eventually(PATIENCE, "alpha to hold nothing of hers", async || {
        let rows = rows_naming(&alpha.pool, hanako).await;
        if rows == [0; 5] {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await;
    assert_eq!(
        posts(sim, alpha_times, "burst ").len(),
        COPIES,
        "her own posts stay"
    );
}
