//! The words of a notification, in Chinese and English: its headline and
//! one sentence naming the ticket, a unit and a deadline, never a person.
//! The feed, the stream and webhook bodies all use these.

use super::notify::NotificationKind;
use super::text::Lang;

/// The headline and sentence of a notification.
pub fn text(kind: NotificationKind, lang: Lang, id: i64, unit: Option<&str>, due: Option<String>) -> (String, String) {
    use NotificationKind as N;
    let unit = unit.unwrap_or_default();
    let due = due.unwrap_or_default();
    let (en_title, en, zh_title, zh) = match kind {
        N::Arrived => (
            "New ticket to sign for",
            format!("Ticket #{id} arrived at {unit}. Sign for it by {due}."),
            "新工单待签收",
            format!("工单 #{id} 已到达{unit}，请在 {due} 前签收。"),
        ),
        N::Accepted => (
            "Your ticket was signed for",
            format!("Ticket #{id} was signed for by {unit}."),
            "您的工单已签收",
            format!("工单 #{id} 已由{unit}签收。"),
        ),
        N::MovedUp => (
            "Your ticket went to a higher level",
            format!("Ticket #{id} is now with {unit}."),
            "您的工单已上报",
            format!("工单 #{id} 已转至上级{unit}处理。"),
        ),
        N::MovedDown => (
            "Your ticket went to a lower level",
            format!("Ticket #{id} is now with {unit}."),
            "您的工单已转下级办理",
            format!("工单 #{id} 已转至{unit}处理。"),
        ),
        N::Resolved => (
            "Your ticket was resolved",
            format!(
                "Ticket #{id} was resolved. Confirm it or ask for it to be handled again by {due}; then it closes by itself."
            ),
            "您的工单已办结",
            format!("工单 #{id} 已办结。请在 {due} 前确认或申请重办，逾期将自动关闭。"),
        ),
        N::Reopened => (
            "A ticket is being handled again",
            format!("The resolution of ticket #{id} was rejected; it is being handled again."),
            "工单已重办",
            format!("工单 #{id} 的办结结果未获认可，正在重新办理。"),
        ),
        N::AutoClosed => (
            "Your ticket was closed",
            format!("Ticket #{id} closed by itself: its resolution was not answered in time."),
            "您的工单已自动关闭",
            format!("工单 #{id} 的办结结果未在期限内确认，已自动关闭。"),
        ),
        N::Rejected => (
            "Your ticket was not accepted",
            format!("Ticket #{id} was not accepted. Open it to see why."),
            "您的工单不予受理",
            format!("工单 #{id} 不予受理，请打开工单查看原因。"),
        ),
        N::Referred => (
            "Your ticket was referred",
            format!("Ticket #{id} was handed to a body outside the community grid."),
            "您的工单已转办",
            format!("工单 #{id} 已转交社区网格以外的单位办理。"),
        ),
        N::Merged => (
            "Your ticket was merged",
            format!("Ticket #{id} duplicates another ticket and now follows its outcome."),
            "您的工单已合并",
            format!("工单 #{id} 与另一工单重复，已合并，办理结果以该工单为准。"),
        ),
        N::Withdrawn => (
            "A ticket was withdrawn",
            format!("Ticket #{id} at {unit} was withdrawn."),
            "工单已撤回",
            format!("{unit}的工单 #{id} 已撤回。"),
        ),
        N::Commented => (
            "New comment",
            format!("Ticket #{id} has a new comment."),
            "新留言",
            format!("工单 #{id} 有新的留言。"),
        ),
        N::MediationRecorded => (
            "Mediation recorded",
            format!("A mediation session on dispute #{id} was recorded."),
            "调解情况已记录",
            format!("纠纷 #{id} 的调解情况已记录。"),
        ),
        N::AgreementRecorded => (
            "Mediation agreement recorded",
            format!("The agreement on dispute #{id} was recorded."),
            "调解协议已录入",
            format!("纠纷 #{id} 的调解协议已录入。"),
        ),
        N::Overdue => (
            "Ticket overdue",
            format!("Ticket #{id} at {unit} missed its deadline of {due}."),
            "工单已超时",
            format!("{unit}的工单 #{id} 已超过期限（{due}）。"),
        ),
        N::Urged => (
            "Overdue below: please urge it on",
            format!("Ticket #{id} at {unit} missed its deadline to resolve of {due}."),
            "催办：下级工单已超时",
            format!("{unit}的工单 #{id} 已超过办结期限（{due}），请督促办理。"),
        ),
        N::ExtensionRequested => (
            "Extension to decide",
            format!("{unit} asks for more time on ticket #{id}, now due {due}. Approve or deny it."),
            "延期申请待审批",
            format!("{unit}申请延长工单 #{id} 的办结时限（现为 {due}），请审批。"),
        ),
        N::ExtensionApproved => (
            "Extension approved",
            format!("Ticket #{id} may now be resolved by {due}."),
            "延期已批准",
            format!("工单 #{id} 的办结时限已延至 {due}。"),
        ),
        N::SignForDueSoon => (
            "Sign for it soon",
            format!("Ticket #{id} at {unit} must be signed for by {due}."),
            "即将超时：请尽快签收",
            format!("{unit}的工单 #{id} 须在 {due} 前签收。"),
        ),
        N::ResolveDueSoon => (
            "Resolve it soon",
            format!("Ticket #{id} at {unit} must be resolved by {due}."),
            "即将超时：请尽快办结",
            format!("{unit}的工单 #{id} 须在 {due} 前办结。"),
        ),
        N::FollowUpDue => (
            "Follow-up visit due",
            format!("The follow-up visit on dispute #{id} at {unit} is due ({due}): record how the agreement is kept."),
            "履行回访到期",
            format!("{unit}的纠纷 #{id} 应于 {due} 进行履行回访，请登记回访结果。"),
        ),
        N::WebhookDisabled => (
            "A webhook was disabled",
            format!("A webhook endpoint of {unit} failed for a day and was disabled. Check it and resume it."),
            "回调地址已停用",
            format!("{unit}的一个回调地址（webhook）连续一天推送失败，已停用。请检查后恢复。"),
        ),
        N::ExtensionDenied => (
            "Extension denied",
            format!("The request for more time on ticket #{id} was denied: it is still due {due}."),
            "延期申请未获批准",
            format!("工单 #{id} 的延期申请未获批准，仍须在 {due} 前办结。"),
        ),
    };
    match lang {
        Lang::En => (en_title.to_owned(), en),
        Lang::Zh => (zh_title.to_owned(), zh),
    }
}
