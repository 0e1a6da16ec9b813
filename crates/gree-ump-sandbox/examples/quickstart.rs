//! Quickstart: one member's way through the Gree UMP member platform, step by step.
//!
//! ```sh
//! cargo run -p gree-ump-sandbox --example quickstart
//! ```
//!
//! With no environment, it starts a sandbox (a local emulator of the platform) in this
//! process and talks to it over HTTP with the `gree_ump` client, exactly as it would talk
//! to the real platform. The steps: register a member, look it up, report an order that
//! earns points, change points and roll the change back, create a coupon template, give
//! the member a coupon and redeem it, return the order, and an SMS code round trip (send;
//! read the code through the sandbox's inspection control; verify), and a points credit
//! recorded in the write journal by a process that stops before sending it, applied
//! once by the next start. Each step prints one line with its key values and the
//! member's points balance.
//!
//! Against a real host (the platform's test host, preferably: every step writes data),
//! set the variables of the SDK's loader (`gree_ump::config`, the same as `ump` and a
//! service read):
//!
//! - `UMP_BASE_URL` (the host, e.g. `https://test-ump.greedc.com`) or `UMP_PRESET`
//!   (`test`, `production`);
//! - `UMP_APP_ID`, and `UMP_APP_SECRET` or `UMP_APP_SECRET_FILE`: your app's credentials;
//! - `UMP_TOKEN_STORE` (optional): where tokens are kept, by default the SDK's file store
//!   that the services and `ump` share. The platform issues tokens once a day (2.1), so
//!   a second run the same day needs the tokens of the first;
//!
//! and also
//!
//! - `UMP_PHONE`: the member's mobile phone; it receives a real SMS;
//! - `UMP_SMS_CODE` (optional): the code of that SMS; without it, the program asks for the
//!   code on standard input.
//!
//! The point event is the document's `event_add`; the platform must have it configured.
//! The program exits with status 1 and the failing step's error on any failure.

use std::fmt::Display;
use std::process::ExitCode;
use std::sync::Arc;

use gree_ump::Client;
use gree_ump::config::Settings;
use gree_ump::endpoints::{
    AddCouponTemplateArgs, AddCouponTemplateRequest, AddOrderArgs, AddOrderRequest,
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest, GiveCouponsArgs,
    GiveCouponsRequest, QueryMemberRequest, RefundOrderArgs, RefundOrderRequest,
    RollbackPointsArgs, RollbackPointsRequest, SendSmsCodeRequest, VerifyCouponsArgs,
    VerifyCouponsRequest, VerifySmsCodeArgs, VerifySmsCodeRequest,
};
use gree_ump::journal::{Journal, JournalWrite, Outcome};
use gree_ump::models::{
    CouponCategory, CouponGrant, CouponGrantArgs, CouponValidityType, MemberInfo, ParamsType,
};
use gree_ump::recovery::{
    PointsChangeOutcome, Recovery, WriteOutcome, change_points_reliably, settle_write,
};
use gree_ump::runtime::journal::{MemoryJournal, SqliteJournal};
use gree_ump::runtime::tokens::MemoryTokenStore;
use gree_ump::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

/// The member's phone when running against the sandbox.
const SANDBOX_PHONE: &str = "13800000000";

/// A failed step: what was being done, and why it failed.
type Failure = String;

/// Names the step a result belongs to, for the error message.
fn at<T, E: Display>(step: &str, result: Result<T, E>) -> Result<T, Failure> {
    result.map_err(|e| format!("{step}: {e}"))
}

/// A write recorded in `journal` and settled by its drainer: its answer's data (`None`
/// when an earlier attempt applied it and the reply was lost), or the step's failure.
async fn through_journal<E: JournalWrite>(
    journal: &Journal,
    step: &str,
    request: &E,
) -> Result<Option<E::Data>, Failure> {
    let receipt = at(step, journal.submit(request).await)?;
    let outcome = at(
        step,
        receipt
            .outcome()
            .timeout(std::time::Duration::from_secs(60))
            .await,
    )?;
    match outcome {
        Outcome::Applied { data } => Ok(data),
        Outcome::Refused { message, .. } => Err(format!("{step}: refused: {message}")),
        Outcome::Pending { last_error, .. } => Err(format!(
            "{step}: recorded, not settled yet (the journal keeps trying): {}",
            last_error.unwrap_or_default()
        )),
        Outcome::Attention { error } => Err(format!("{step}: needs an operator: {error}")),
    }
}

/// The answer of a write sent the safe way (`recovery::settle_write`: re-sent identical
/// while its outcome is unknown), or the step's failure saying what it proves.
fn settled<T>(step: &str, outcome: WriteOutcome<T>) -> Result<Option<T>, Failure> {
    match outcome {
        WriteOutcome::Applied { data, .. } => Ok(data),
        WriteOutcome::Refused(e) => Err(format!("{step}: refused, nothing changed: {e}")),
        WriteOutcome::NotSent(e) => Err(format!("{step}: not sent, nothing changed: {e}")),
        WriteOutcome::Unresolved { last_error } => Err(format!(
            "{step}: outcome still unknown (keep the request and settle it later): {last_error}"
        )),
    }
}

/// Where the calls go.
enum Target {
    /// A sandbox in this process, with its inspection controls.
    Sandbox(SandboxHandle),
    /// A real host.
    Host,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("quickstart failed at {failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let (client, target, phone) = connect().await?;
    let run_id = TimestampMs::now().0; // keeps order numbers and keys unique per run

    // Writes with no key of their own (3.1, 5.1, 5.2) go through the write journal, the
    // safe path their docs name: recorded first, then settled by a drainer that probes
    // before any re-send (3.1: the member by phone; 5.2: the member's coupons). Here in
    // memory; a service keeps it in SQLite or PostgreSQL (steps 13–14).
    let journal = Journal::new(client.clone(), Arc::new(MemoryJournal::new()));
    let drainer = journal.start();

    // 1. Register the member. A member the phone finds is the one created: its open_id
    //    is read back when the reply that carried it was lost.
    let step = "create member";
    let create = CreateMemberRequest::new(CreateMemberArgs {
        project_id: "18756".into(),
        nickname: "Quickstart".into(),
        phone: phone.clone(),
    });
    let open_id = match through_journal(&journal, step, &create).await? {
        Some(open_id) => open_id,
        None => query_phone(&client, step, &phone).await?,
    };
    println!(" 1. {step:<18} phone {phone} → open_id {open_id}");

    // 2. Look it up.
    let step = "query member";
    let member = query(&client, step, &open_id).await?;
    println!(
        " 2. {step:<18} level {} {}, {} points",
        member.level_number.unwrap_or_default(),
        member.level_name.as_deref().unwrap_or("-"),
        member.score.unwrap_or_default(),
    );

    // 3. An order of 1000.40 yuan that earns 100 points.
    let step = "order with points";
    let order_no = format!("QS-{run_id}");
    let amount = at(step, Yuan::parse("1000.40"))?;
    // An order is not idempotent: sent bare, a lost reply leaves it unknown. The safe
    // path re-sends the identical request (an identical repeat answers the first answer).
    let order = AddOrderRequest::new(AddOrderArgs {
        consume_date: BeijingDateTime::now(),
        order_amount: amount,
        order_no: order_no.clone(),
        order_score: 100,
    })
    .open_id(&open_id)
    .desc("quickstart order");
    let order_id = settled(
        step,
        settle_write(&client, &order, Recovery::default()).await,
    )?
    .map_or_else(|| "-".to_owned(), |id| id.to_string());
    let balance = score(&client, step, &open_id).await?;
    println!(
        " 3. {step:<18} order {order_no} (id {order_id}), {amount} yuan, +100 → {balance} points"
    );

    // 4. A points change of +50. `change_id` makes it idempotent, and
    //    `change_points_reliably` settles a lost reply under that key: never twice.
    let step = "change points";
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 50,
        out_biz_no: format!("QS-{run_id}-bonus"),
        change_reason: "quickstart bonus".into(),
        change_event: "event_add".into(),
        change_id: format!("qs-{run_id}-change"),
    });
    let change_key = change.change_id.clone();
    // Known when this attempt applied it; an earlier attempt's reply was lost otherwise.
    let statement_id = match change_points_reliably(&client, change, Recovery::default()).await {
        PointsChangeOutcome::Applied { statement_id, .. } => statement_id,
        PointsChangeOutcome::Refused(e) => return Err(format!("{step}: refused: {e}")),
        PointsChangeOutcome::NotSent(e) => return Err(format!("{step}: not sent: {e}")),
        PointsChangeOutcome::KeyInUse { error, .. } => {
            return Err(format!("{step}: change_id already used: {error}"));
        }
        PointsChangeOutcome::Unresolved { last_error, .. } => {
            return Err(format!(
                "{step}: outcome unknown, resolve it later: {last_error}"
            ));
        }
    };
    let balance = score(&client, step, &open_id).await?;
    println!(
        " 4. {step:<18} +50, statement {} → {balance} points",
        statement_id
            .as_deref()
            .unwrap_or("(applied by an earlier attempt)")
    );

    // 5. Roll that change back: by its statement id under a key of its own, or, when the
    //    statement id was lost with a reply, by the change's own key (3.4.1's recovery path).
    let step = "roll back change";
    let rollback = match &statement_id {
        Some(id) => RollbackPointsRequest::new(RollbackPointsArgs {
            open_id: open_id.clone(),
            rollback_score: 50,
            change_id: format!("qs-{run_id}-rollback"),
        })
        .statement_id(id),
        None => RollbackPointsRequest::new(RollbackPointsArgs {
            open_id: open_id.clone(),
            rollback_score: 50,
            change_id: change_key.clone(),
        }),
    };
    let rolled = at(step, client.points().rollback_points(rollback).await)?;
    let balance = score(&client, step, &open_id).await?;
    println!(
        " 5. {step:<18} change {change_key} undone by statement {} → {balance} points",
        rolled.statement_id.as_deref().unwrap_or("-"),
    );

    // 6. A coupon template: 10 yuan off orders from 100 yuan, valid 30 days.
    let step = "coupon template";
    let template_ref = format!("qs-tpl-{run_id}");
    let template = AddCouponTemplateRequest::new(AddCouponTemplateArgs {
        third_coupon_id: template_ref.clone(),
        coupon_category: CouponCategory::OrderAmountOff,
        name: "满100减10".into(),
        discount_fee: 1_000, // fen
        coupon_type: CouponValidityType::DaysAfterReceipt,
        rules: "满100元可用".into(),
    })
    .fixed_term(30)
    .minimum_fee(10_000); // fen
    let template_id = through_journal(&journal, step, &template).await?;
    println!(
        " 6. {step:<18} {template_ref} → template id {}",
        template_id.map_or_else(
            || "(applied by an earlier attempt)".to_owned(),
            |id| id.to_string()
        )
    );

    // 7. Give the member one coupon; our code for it is `coupon_code`.
    let step = "give coupon";
    let coupon_code = format!("QS-{run_id}-C1");
    let grant = CouponGrant::new(CouponGrantArgs {
        open_id: open_id.clone(),
        coupon_number: coupon_code.clone(),
        params_type: ParamsType::OpenId,
    });
    let give = GiveCouponsRequest::new(GiveCouponsArgs {
        coupon_set: vec![grant],
        number: 1,
        create_time: TimestampMs::now(),
        third_coupon_id: template_ref.clone(),
    });
    let given = through_journal(&journal, step, &give).await?;
    drainer.stop().await;
    let platform_code = given
        .as_deref()
        .and_then(<[_]>::first)
        .and_then(|g| g.code.clone())
        .unwrap_or_else(|| "-".to_owned());
    let held = query(&client, step, &open_id).await?.coupon_num;
    println!(
        " 7. {step:<18} coupon {coupon_code} (platform code {platform_code}) → {} valid coupon(s)",
        held.unwrap_or_default()
    );

    // 8. Redeem it against the order.
    let step = "verify coupon";
    let redeem = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: open_id.clone(),
        order_no: order_no.clone(),
        third_coupon_codes: vec![coupon_code.clone()],
        verification_time: TimestampMs::now(),
        order_amount: amount,
    });
    settled(
        step,
        settle_write(&client, &redeem, Recovery::default()).await,
    )?;
    let held = query(&client, step, &open_id).await?.coupon_num;
    println!(
        " 8. {step:<18} coupon {coupon_code} used on order {order_no} → {} valid coupon(s)",
        held.unwrap_or_default()
    );

    // 9. The whole order comes back: its 100 points are taken back.
    let step = "refund order";
    let return_no = format!("QS-{run_id}-R");
    let refund = RefundOrderRequest::new(RefundOrderArgs {
        consume_date: BeijingDateTime::now(),
        order_amount: amount,
        order_no: return_no.clone(),
        parent_order_no: order_no.clone(),
    })
    .open_id(&open_id)
    .desc("quickstart return");
    let refund_id = settled(
        step,
        settle_write(&client, &refund, Recovery::default()).await,
    )?
    .map_or_else(|| "-".to_owned(), |id| id.to_string());
    let balance = score(&client, step, &open_id).await?;
    println!(
        " 9. {step:<18} return {return_no} (id {refund_id}) of order {order_no} → {balance} points"
    );

    // 10–12. An SMS code round trip.
    let step = "send SMS code";
    at(
        step,
        client
            .sms()
            .send_sms_code(SendSmsCodeRequest::new(&phone))
            .await,
    )?;
    println!("10. {step:<18} to {phone}");

    let step = "read SMS code";
    let (code, source) = match &target {
        Target::Sandbox(sandbox) => (
            sandbox
                .control()
                .last_sms_code(&phone)
                .ok_or_else(|| format!("{step}: the sandbox recorded no code for {phone}"))?,
            "the sandbox's inspection control",
        ),
        Target::Host => sms_code_from_user(step, &phone).await?,
    };
    println!("11. {step:<18} {code} (from {source})");

    let step = "verify SMS code";
    // A wrong code is an error (140005), never an `Ok(false)` to forget to check (E72).
    at(
        step,
        client
            .sms()
            .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
                phone: phone.clone(),
                verify_code: code.clone(),
            }))
            .await,
    )?;
    println!("12. {step:<18} accepted");

    // 13–14. A write that survives a restart: recorded in the journal (a SQLite file),
    //        the process stops before sending it, and the next start applies it, once.
    let step = "journal a write";
    let journal_file = std::env::temp_dir().join(format!("ump-quickstart-{run_id}.sqlite3"));
    let credit = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 20,
        out_biz_no: format!("QS-{run_id}-journal"),
        change_reason: "quickstart journal".into(),
        change_event: "event_add".into(),
        change_id: format!("qs-{run_id}-journal"),
    });
    let id = {
        let store = Arc::new(at(step, SqliteJournal::open(&journal_file))?);
        let journal = Journal::new(client.clone(), store);
        // Recorded durably: a till answers its customer now. No drainer runs here: the
        // process "stops" with the write unsent.
        at(step, journal.submit(&credit).await)?.id
    };
    println!(
        "13. {step:<18} entry {id} recorded in {}; the process stops",
        journal_file.display()
    );

    let step = "restart and drain";
    let store = Arc::new(at(step, SqliteJournal::open(&journal_file))?);
    let journal = Journal::new(client.clone(), store);
    let drainer = journal.start(); // the next start: settles what the journal holds
    let outcome = at(
        step,
        journal
            .receipt::<ChangePointsRequest>(id)
            .outcome()
            .timeout(std::time::Duration::from_secs(10))
            .await,
    )?;
    drainer.stop().await;
    let balance = score(&client, step, &open_id).await?;
    match outcome {
        Outcome::Applied { .. } => {
            println!("14. {step:<18} entry {id} applied once: +20 → {balance} points")
        }
        other => return Err(format!("{step}: entry {id} is {other:?}")),
    }
    let _ = std::fs::remove_file(&journal_file);
    for suffix in ["-wal", "-shm"] {
        let mut side = journal_file.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }

    println!("Done: every step succeeded.");
    if let Target::Sandbox(sandbox) = target {
        // This sandbox stops with the program: the URL shows where its inspector was,
        // and how to keep one up to look at.
        println!(
            "Inspect a sandbox's state at {}/__sandbox/ui (run `gree-ump-sandbox` to keep one up)",
            sandbox.base_url()
        );
        sandbox.shutdown().await;
    }
    Ok(())
}

/// A client of the sandbox (no environment) or of the host the environment names,
/// through the SDK's loader (`gree_ump::config`), as a service and `ump` read it.
async fn connect() -> Result<(Client, Target, String), Failure> {
    let step = "set-up";
    let mut settings = at(step, Settings::from_env())?;
    // This program's older spelling: a preset's name in UMP_BASE_URL.
    if settings
        .base_url
        .as_ref()
        .is_some_and(|u| !u.contains("://"))
    {
        settings.preset = settings.base_url.take();
    }
    let host_named = settings.base_url.is_some()
        || settings.preset.is_some()
        || settings.app_id.is_some()
        || settings.app_secret.is_some()
        || settings.app_secret_file.is_some();
    if !host_named {
        let sandbox = at(step, Sandbox::start(SandboxConfig::default()).await)?;
        let client = at(
            step,
            Client::builder()
                .base_url(sandbox.base_url())
                .app_id(sandbox.app_id())
                .app_secret(sandbox.app_secret())
                // A sandbox of this run only: its tokens die with it. (Against a real
                // host the configured store is kept: by default the SDK's file store,
                // which the services and `ump` share.)
                .token_store(Arc::new(MemoryTokenStore::new()))
                .build(),
        )?;
        println!(
            "Gree UMP quickstart against a sandbox in this process at {}",
            sandbox.base_url()
        );
        return Ok((client, Target::Sandbox(sandbox), SANDBOX_PHONE.to_owned()));
    }
    let builder = at(step, settings.client_builder().await)?;
    let phone = std::env::var("UMP_PHONE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            format!("{step}: set UMP_PHONE to the member's phone (it receives an SMS)")
        })?;
    let client = at(step, builder.build())?;
    println!(
        "Gree UMP quickstart against {}",
        client.runtime().base_url()
    );
    Ok((client, Target::Host, phone))
}

/// The member as the platform reports it now.
async fn query(client: &Client, step: &str, open_id: &str) -> Result<MemberInfo, Failure> {
    at(
        step,
        client
            .members()
            .query_member(QueryMemberRequest::new().open_id(open_id))
            .await,
    )
}

/// The open_id of the member a phone finds.
async fn query_phone(client: &Client, step: &str, phone: &str) -> Result<String, Failure> {
    let member = at(
        step,
        client
            .members()
            .query_member(QueryMemberRequest::new().phone(phone))
            .await,
    )?;
    member
        .open_id
        .ok_or_else(|| format!("{step}: the member found by phone has no open_id"))
}

/// The member's points balance now.
async fn score(client: &Client, step: &str, open_id: &str) -> Result<i64, Failure> {
    Ok(query(client, step, open_id)
        .await?
        .score
        .unwrap_or_default())
}

/// The code of the SMS just sent: `UMP_SMS_CODE`, or a line of standard input.
async fn sms_code_from_user(step: &str, phone: &str) -> Result<(String, &'static str), Failure> {
    if let Ok(code) = std::env::var("UMP_SMS_CODE")
        && !code.trim().is_empty()
    {
        return Ok((code.trim().to_owned(), "UMP_SMS_CODE"));
    }
    eprint!("    enter the code sent to {phone}: ");
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    let line = at(step, at(step, line)?)?;
    let code = line.trim().to_owned();
    if code.is_empty() {
        return Err(format!("{step}: no code was entered"));
    }
    Ok((code, "standard input"))
}
