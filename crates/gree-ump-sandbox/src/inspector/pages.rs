//! The inspector's pages. The lists (members, requests) copy their rows under the lock
//! and render after letting go, so a long list never holds up the gateway; a member's
//! page renders under the world's lock (one member's rows: short).

use axum::http::StatusCode;
use axum::response::Response;

use super::html::{Html, error_page, page as render, url_component};
use super::labels::{self, Label};
use super::log::{Entry, Filter, Shown, show};
use crate::clock::beijing_text;
use crate::faults::ANY_METHOD;
use crate::server::Shared;

/// Rows per page of the member list and of the request log.
pub(crate) const PAGE_SIZE: usize = 20;

/// The items of page `page` (from 1) and the number of pages (at least 1).
fn cut<T>(items: Vec<T>, page: usize) -> (Vec<T>, usize) {
    let pages = items.len().div_ceil(PAGE_SIZE).max(1);
    let start = page.saturating_sub(1).saturating_mul(PAGE_SIZE);
    (
        items.into_iter().skip(start).take(PAGE_SIZE).collect(),
        pages,
    )
}

/// "Page N of M" with links to the previous and next pages; `query` is the rest of the
/// query string, already encoded.
fn pager(h: &mut Html, base: &str, query: &str, page: usize, pages: usize) {
    h.raw("<p class=\"pager\">");
    if page > 1 {
        h.link(
            &format!("{base}?{query}page={}", page - 1),
            "← 上一页 previous",
        )
        .raw(" ");
    }
    h.raw("<span id=\"page\">")
        .text(format!("{page} / {pages}"))
        .raw("</span>");
    if page < pages {
        h.raw(" ")
            .link(&format!("{base}?{query}page={}", page + 1), "下一页 next →");
    }
    h.raw("</p>");
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn header(h: &mut Html, cols: &[Label]) {
    h.raw("<tr>");
    for c in cols {
        h.th(*c);
    }
    h.raw("</tr>");
}

/// One member row of the list.
struct MemberRow {
    open_id: String,
    phone: String,
    nickname: String,
    score: i64,
    growth_value: i64,
    register_ms: i64,
}

/// The member list, filtered by `q` (part of a phone or open_id), newest first.
pub(crate) fn members(shared: &Shared, q: Option<&str>, page: usize) -> Response {
    let mut rows: Vec<MemberRow> = {
        let world = shared.world();
        world
            .members
            .by_open_id
            .values()
            .filter(|m| q.is_none_or(|q| m.open_id.contains(q) || m.profile.phone.contains(q)))
            .map(|m| MemberRow {
                open_id: m.open_id.clone(),
                phone: m.profile.phone.clone(),
                nickname: m.profile.nickname.clone(),
                score: m.score,
                growth_value: m.growth_value,
                register_ms: m.register_time_ms,
            })
            .collect()
    };
    rows.sort_by(|a, b| {
        b.register_ms
            .cmp(&a.register_ms)
            .then_with(|| a.open_id.cmp(&b.open_id))
    });
    let total = rows.len();
    let (rows, pages) = cut(rows, page);
    let mut h = Html::new();
    h.raw("<form method=\"get\" action=\"/__sandbox/ui\"><input name=\"q\" id=\"q\" placeholder=\"手机号或 open_id · phone or open_id\" value=\"")
        .text(q.unwrap_or_default())
        .raw("\"><button type=\"submit\">搜索 Search</button></form><p id=\"total\">")
        .text(format!("{total} 位会员 members"))
        .raw("</p><table id=\"members\">");
    header(
        &mut h,
        &[
            labels::OPEN_ID,
            labels::PHONE,
            labels::NICKNAME,
            labels::SCORE,
            labels::GROWTH_VALUE,
            labels::REGISTER_TIME,
        ],
    );
    for r in &rows {
        h.raw("<tr><td>")
            .link(
                &format!("/__sandbox/ui/members/{}", url_component(&r.open_id)),
                &r.open_id,
            )
            .raw("</td>")
            .td(&r.phone)
            .td(&r.nickname)
            .td(r.score)
            .td(r.growth_value)
            .td(beijing_text(r.register_ms))
            .raw("</tr>");
    }
    h.raw("</table>");
    let query = q.map_or_else(String::new, |q| format!("q={}&", url_component(q)));
    pager(&mut h, "/__sandbox/ui", &query, page, pages);
    render("会员 Members", h)
}

/// One member: profile, ledger, orders and returns, coupons.
pub(crate) fn member(shared: &Shared, id: &str) -> Response {
    let now = shared.now_ms();
    let world = shared.world();
    let Some(m) = world.members.find(id) else {
        drop(world);
        return error_page(StatusCode::NOT_FOUND, &format!("no member {id}"));
    };
    let mut h = Html::new();
    let level = crate::state::members::standing(&world.levels, m.growth_value)
        .map(|s| s.current.name.clone())
        .unwrap_or_default();
    h.raw("<table id=\"profile\">");
    let rows: [(Label, String); 8] = [
        (labels::OPEN_ID, m.open_id.clone()),
        (labels::PHONE, m.profile.phone.clone()),
        (labels::NICKNAME, m.profile.nickname.clone()),
        (
            labels::REALNAME,
            m.profile.realname.clone().unwrap_or_default(),
        ),
        (labels::PROJECT_ID, m.profile.project_id.clone()),
        (labels::SCORE, m.score.to_string()),
        (labels::GROWTH_VALUE, m.growth_value.to_string()),
        (labels::LEVEL_NAME, level),
    ];
    for (label, value) in rows {
        h.raw("<tr>").th(label).td(value).raw("</tr>");
    }
    h.raw("<tr>")
        .th(labels::REGISTER_TIME)
        .td(beijing_text(m.register_time_ms))
        .raw("</tr></table>");
    h.raw("<p>")
        .link(
            &format!(
                "/__sandbox/ui/requests?member={}",
                url_component(&m.open_id)
            ),
            "此会员的请求 this member's requests",
        )
        .raw("</p>");

    h.raw("<h2>积分明细 Ledger</h2><table id=\"ledger\">");
    header(
        &mut h,
        &[
            labels::ENTRY_ID,
            labels::STATEMENT_ID,
            labels::AMOUNT,
            labels::DESC,
            labels::METHOD,
            labels::ORDER_NO,
            labels::TIME,
            labels::BALANCE_AFTER,
        ],
    );
    for e in m.ledger.iter().rev() {
        h.raw("<tr>")
            .td(e.id)
            .td(&e.statement_id)
            .td(e.amount)
            .td(&e.desc)
            .td(&e.method)
            .td(e.order_no.as_deref().unwrap_or_default())
            .td(beijing_text(e.created_ms))
            .td(e.balance_after)
            .raw("</tr>");
    }
    h.raw("</table><h2>订单 Orders</h2><table id=\"orders\">");
    header(
        &mut h,
        &[
            labels::ORDER_NO,
            labels::ORDER_AMOUNT,
            labels::ORDER_SCORE,
            labels::CONSUME_DATE,
            labels::REFUNDED,
            labels::TIME,
        ],
    );
    for o in world
        .orders
        .orders
        .values()
        .filter(|o| o.open_id == m.open_id)
    {
        h.raw("<tr>")
            .td(&o.order_no)
            .td(yuan(o.amount_fen))
            .td(o.order_score)
            .td(&o.consume_date)
            .td(yuan(o.refunded_fen))
            .td(beijing_text(o.created_ms))
            .raw("</tr>");
    }
    h.raw("</table><h2>退货 Returns</h2><table id=\"returns\">");
    header(
        &mut h,
        &[
            labels::RETURN_ORDER_NO,
            labels::ORDER_NO,
            labels::RETURN_AMOUNT,
            labels::TIME,
        ],
    );
    for r in world
        .orders
        .refunds
        .values()
        .filter(|r| r.open_id == m.open_id)
    {
        h.raw("<tr>")
            .td(&r.order_no)
            .td(&r.parent_order_no)
            .td(yuan(r.amount_fen))
            .td(beijing_text(r.created_ms))
            .raw("</tr>");
    }
    h.raw("</table><h2>优惠券 Coupons</h2><table id=\"coupons\">");
    header(
        &mut h,
        &[
            labels::COUPON_CODE,
            labels::THIRD_COUPON_CODE,
            labels::COUPON_NAME,
            labels::COUPON_STATUS,
            labels::BEGIN_TIME,
            labels::END_TIME,
            labels::USE_ORDER_NO,
        ],
    );
    for c in world
        .coupons
        .coupons
        .values()
        .filter(|c| c.open_id == m.open_id)
    {
        let name = world
            .coupons
            .templates
            .get(&c.template_id)
            .map(|t| t.request.name.as_str())
            .unwrap_or_default();
        h.raw("<tr>")
            .td(c.code)
            .td(&c.third_coupon_code)
            .td(name)
            .td(c.effective_status(now))
            .td(beijing_text(c.begin_ms))
            .td(beijing_text(c.end_ms))
            .td(c.use_order_no.as_deref().unwrap_or_default())
            .raw("</tr>");
    }
    h.raw("</table>");
    let title = format!("会员 Member {}", m.open_id);
    drop(world);
    render(&title, h)
}

/// One row of the request table (also what the live view inserts).
pub(crate) fn request_row(shown: &Shown) -> Html {
    let mut h = Html::new();
    h.raw("<tr class=\"request\" data-id=\"")
        .text(shown.id)
        .raw("\"><td>")
        .link(&format!("/__sandbox/ui/requests/{}", shown.id), shown.id)
        .raw("</td>")
        .td(&shown.at)
        .td(&shown.method)
        .raw(if shown.outcome == "ok" {
            "<td class=\"ok\">"
        } else {
            "<td class=\"error\">"
        })
        .text(shown.outcome)
        .raw("</td>")
        .td(shown.code.map(|c| c.to_string()).unwrap_or_default())
        .td(fault_text(shown.fault.as_ref()))
        .raw("</tr>");
    h
}

fn fault_text(fault: Option<&crate::faults::Fault>) -> String {
    fault
        .and_then(|f| serde_json::to_string(f).ok())
        .unwrap_or_default()
}

/// The request log, filtered, newest first, with the live view's script.
pub(crate) fn requests(shared: &Shared, filter: &Filter, page: usize) -> Response {
    let entries = shared.log.matching(filter);
    let total = entries.len();
    let (entries, pages) = cut(entries, page);
    let mut query = String::new();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(m) = &filter.method {
        pairs.push(("method", m.clone()));
    }
    if let Some(c) = filter.code {
        pairs.push(("code", c.to_string()));
    }
    if let Some(m) = &filter.member {
        pairs.push(("member", m.clone()));
    }
    for (k, v) in &pairs {
        query.push_str(&format!("{k}={}&", url_component(v)));
    }
    let mut h = Html::new();
    h.raw("<form method=\"get\" action=\"/__sandbox/ui/requests\">")
        .raw("方法 method <input name=\"method\" id=\"f-method\" value=\"")
        .text(filter.method.as_deref().unwrap_or_default())
        .raw("\"> 代码 code <input name=\"code\" id=\"f-code\" size=\"6\" value=\"")
        .text(filter.code.map(|c| c.to_string()).unwrap_or_default())
        .raw("\"> 会员 member <input name=\"member\" id=\"f-member\" value=\"")
        .text(filter.member.as_deref().unwrap_or_default())
        .raw("\"> <button type=\"submit\">筛选 Filter</button></form>")
        .raw("<p><span id=\"total\">")
        .text(total)
        .raw("</span> 条请求 requests (最近 the last ")
        .text(super::log::CAPACITY)
        .raw(" are kept) · ")
        .link(&format!("/__sandbox/requests?{query}"), "JSON")
        .raw(" · <span id=\"live\">实时 live: connecting…</span></p>")
        .raw("<table id=\"requests\"><thead><tr><th>#</th>")
        .th(labels::TIME)
        .th(labels::METHOD)
        .raw("<th>结果 <span class=\"en\">Outcome</span></th><th>代码 <span class=\"en\">Code</span></th><th>故障 <span class=\"en\">Fault</span></th></tr></thead><tbody>");
    for e in &entries {
        let shown = show(e, &shared.config.app_secret);
        h.append(request_row(&shown));
    }
    h.raw("</tbody></table>");
    pager(&mut h, "/__sandbox/ui/requests", &query, page, pages);
    // Live updates on the first page only (later pages would shift under the reader).
    if page == 1 {
        h.raw("<script>(function(){var live=document.getElementById('live');var es=new EventSource('/__sandbox/ui/requests/events'+location.search);")
            .raw("es.onopen=function(){live.textContent='实时 live: on';};es.onerror=function(){live.textContent='实时 live: reconnecting';};")
            .raw("es.addEventListener('request',function(ev){var body=document.querySelector('#requests tbody');var t=document.createElement('tbody');t.innerHTML=ev.data;var row=t.firstElementChild;if(row&&!document.querySelector('tr[data-id=\"'+row.dataset.id+'\"]')){body.insertBefore(row,body.firstChild);var n=document.getElementById('total');n.textContent=String(Number(n.textContent)+1);}});})();</script>");
    }
    render("请求日志 Requests", h)
}

/// One request, redacted.
pub(crate) fn request(shared: &Shared, entry: &Entry) -> Response {
    let shown = show(entry, &shared.config.app_secret);
    let mut h = Html::new();
    h.raw("<table id=\"request\">");
    let facts: [(&'static str, String); 7] = [
        ("# id", shown.id.to_string()),
        ("时间 time", shown.at.clone()),
        ("请求方式 verb", shown.verb.to_owned()),
        ("方法 method", shown.method.clone()),
        ("结果 outcome", shown.outcome.to_owned()),
        (
            "代码 code",
            shown.code.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("故障 fault", fault_text(shown.fault.as_ref())),
    ];
    for (name, value) in facts {
        h.raw("<tr><th>")
            .text(name)
            .raw("</th>")
            .td(value)
            .raw("</tr>");
    }
    h.raw("</table><h2>查询参数 Query</h2><table id=\"query\">");
    for (k, v) in &shown.query {
        h.raw("<tr>").td(k).td(v).raw("</tr>");
    }
    h.raw("</table><h2>请求体 Request body</h2><pre id=\"body\">")
        .text(pretty(&shown.body))
        .raw("</pre><h2>应答 Reply</h2><pre id=\"reply\">")
        .text(pretty(&shown.reply))
        .raw("</pre><p>")
        .link(
            &format!(
                "/__sandbox/ui/requests?method={}",
                url_component(&shown.method)
            ),
            "同方法的请求 requests of this method",
        )
        .raw("</p>");
    render(&format!("请求 Request {}", shown.id), h)
}

/// JSON pretty-printed when it parses, else as it is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// Faults, clock, token counters, SMS codes, reset, state download.
pub(crate) fn controls(shared: &Shared) -> Response {
    let now = shared.now_ms();
    let plans = shared.faults().plans();
    let (counts, sms) = {
        let world = shared.world();
        let sms: Vec<_> = world
            .sms
            .phones
            .values()
            .filter_map(|p| p.last.clone())
            .collect();
        (world.tokens.counts(now), sms)
    };
    let mut h = Html::new();

    h.raw("<h2>时钟 Clock</h2><p>现在 now: <span id=\"now\">")
        .text(beijing_text(now))
        .raw("</span> (北京时间 Beijing time; <span id=\"now-ms\">")
        .text(now)
        .raw("</span> ms; offset ")
        .text(shared.clock.offset_ms())
        .raw(" ms)</p>")
        .raw("<form method=\"post\" action=\"/__sandbox/ui/clock\" id=\"advance-form\">前进 advance by <input name=\"advance_s\" id=\"advance-s\" size=\"8\" value=\"3600\"> 秒 seconds <button type=\"submit\" id=\"advance\">前进 Advance</button></form>")
        .raw("<form method=\"post\" action=\"/__sandbox/ui/clock\" id=\"set-form\">设为 set to <input name=\"set\" id=\"set-time\" size=\"22\" placeholder=\"yyyy-MM-dd HH:mm:ss or ms\"> <button type=\"submit\" id=\"set\">设置 Set</button></form>");

    h.raw("<h2>故障 Faults</h2><table id=\"faults\"><tr><th>方法 <span class=\"en\">Method</span></th><th>故障 <span class=\"en\">Fault</span></th><th>剩余 <span class=\"en\">Remaining</span></th></tr>");
    for p in &plans {
        h.raw("<tr>")
            .td(&p.method)
            .td(fault_text(Some(&p.fault)))
            .td(p.remaining)
            .raw("</tr>");
    }
    h.raw("</table><form method=\"post\" action=\"/__sandbox/ui/faults\" id=\"fault-form\"><select name=\"method\" id=\"fault-method\"><option value=\"")
        .text(ANY_METHOD)
        .raw("\">* 任意方法 any method</option>");
    for e in gree_ump::generated::routes::AnyRequest::ENDPOINTS {
        h.raw("<option value=\"")
            .text(e.method)
            .raw("\">")
            .text(e.method)
            .raw("</option>");
    }
    h.raw("</select> <select name=\"kind\" id=\"fault-kind\">");
    for kind in super::forms::FAULT_KINDS {
        h.raw("<option>").text(kind).raw("</option>");
    }
    h.raw("</select> code <input name=\"code\" id=\"fault-code\" size=\"6\"> status <input name=\"status\" size=\"4\"> delay_ms <input name=\"delay_ms\" size=\"6\"> 次数 times <input name=\"times\" id=\"fault-times\" size=\"3\" value=\"1\"> <button type=\"submit\" id=\"add-fault\">添加 Add</button></form>")
        .raw("<form method=\"post\" action=\"/__sandbox/ui/faults/clear\"><button type=\"submit\" id=\"clear-faults\">全部清除 Clear all</button></form>");

    h.raw("<h2>今日令牌调用 Token calls today</h2><table id=\"token-calls\"><tr><th>2.1 calls</th><th>2.1 issued</th><th>2.2 calls</th><th>2.2 issued</th></tr><tr>")
        .td(counts.obtain_calls)
        .td(counts.obtain_issued)
        .td(counts.refresh_calls)
        .td(counts.refresh_issued)
        .raw("</tr></table>");

    h.raw("<h2>短信验证码 SMS codes</h2><table id=\"sms\"><tr>")
        .th(labels::TARGET)
        .th(labels::VERIFY_CODE)
        .th(labels::TIME)
        .raw("<th>过期 <span class=\"en\">Expires</span></th><th>已用 <span class=\"en\">Used</span></th></tr>");
    for s in &sms {
        h.raw("<tr>")
            .td(&s.phone)
            .td(&s.code)
            .td(beijing_text(s.sent_ms))
            .td(beijing_text(s.expires_ms))
            .td(s.used)
            .raw("</tr>");
    }
    h.raw("</table>");

    h.raw("<h2>状态 State</h2><p><a href=\"/__sandbox/ui/state.json\" id=\"download\" download>下载状态 Download the state (JSON)</a></p>")
        .raw("<form method=\"post\" action=\"/__sandbox/ui/reset\" id=\"reset-form\" onsubmit=\"return confirm('重置沙箱? Reset the sandbox: every member, token, fault is dropped.');\"><label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" id=\"reset-confirm\"> 确认 I confirm</label> <button type=\"submit\" id=\"reset\">重置 Reset</button></form>");
    render("控制 Controls", h)
}
