"""Messages in the inbox (`notification.<code>`, filled from the message's params), the words their
params stand for, the bell in the top bar and the inbox page."""

TEXT: dict[str, tuple[str, str]] = {
    "notification.earlier_message": ("旧消息：{title} {body}", "Earlier message: {title} {body}"),
    "notification.order_entered": (
        "{name}（{channel}）为您代下了点单 #{order_id}。",
        "{name} entered order #{order_id} for you ({channel}).",
    ),
    "notification.order_dispatched": (
        "点单 #{order_id} 已派给志愿者，等待接单。",
        "Order #{order_id} is offered to volunteers, waiting for one to accept.",
    ),
    "notification.order_accepted": (
        "志愿者 {volunteer} 已接下点单 #{order_id}。",
        "Volunteer {volunteer} accepted order #{order_id}.",
    ),
    "notification.order_checked_in": (
        "志愿者已到达，点单 #{order_id} 开始服务。",
        "The volunteer has checked in: order #{order_id} is in service.",
    ),
    "notification.order_completed": (
        "点单 #{order_id} 已完成服务，请确认并评价。",
        "Order #{order_id} is done: please confirm and rate it.",
    ),
    "notification.order_auto_confirmed": (
        "点单 #{order_id} 完成后 {days} 天未确认，已自动确认。",
        "Order #{order_id} was confirmed automatically: it was not confirmed within {days} days.",
    ),
    "notification.order_cancelled": (
        "点单 #{order_id} 已被取消：{reason}",
        "Order #{order_id} was cancelled: {reason}",
    ),
    "notification.order_rejected": (
        "点单 #{order_id} 被驳回：{reason}",
        "Order #{order_id} was rejected: {reason}",
    ),
    "notification.order_expired": (
        "点单 #{order_id} 已过期：{reason_code}",
        "Order #{order_id} expired: {reason_code}",
    ),
    "notification.order_escalated": (
        "点单 #{order_id} 迟迟没有办好，已上报{level}跟进。",
        "Order #{order_id} is late and was passed on to {level}.",
    ),
    "notification.offer": (
        "有新的派单 #{order_id}，请在 {answer_by} 前答复。",
        "Order #{order_id} is offered to you: answer by {answer_by}.",
    ),
    "notification.task_cancelled": (
        "您接下的点单 #{order_id} 已被取消：{reason}",
        "Order #{order_id} you accepted was cancelled: {reason}",
    ),
    "notification.escalation": (
        "点单 #{order_id} 超时上报{level}：{late}（{minutes}）。",
        "Order #{order_id} escalated to {level}: {late} ({minutes}).",
    ),
    "notification.order_hurried": (
        "居民催办点单 #{order_id}，请尽快处理。",
        "The resident asks to hurry order #{order_id}.",
    ),
    "notification.order_reopened": (
        "居民重新打开了点单 #{order_id}：{reason}",
        "The resident reopened order #{order_id}: {reason}",
    ),
    "notification.followup_due": (
        "请在 {due_at} 前回访点单 #{order_id}（{followup_reason}）。",
        "Follow up order #{order_id} ({followup_reason}) by {due_at}.",
    ),
    "notification.approval_pending": (
        "{name} 的{application_kind}等待您审核。",
        "{name}'s {application_kind} is waiting for your decision.",
    ),
    "notification.signup_approved": ("您的注册已通过。", "Your sign-up is approved."),
    "notification.signup_refused": ("您的注册没有通过。", "Your sign-up was not approved."),
    "notification.volunteer_approved": ("您已成为志愿者。", "You are a volunteer now."),
    "notification.volunteer_refused": (
        "您的志愿者申请没有通过。",
        "Your volunteer application was not approved.",
    ),
    "notification.team_joined": ("您已加入志愿者队伍“{team}”。", "You are now a member of the team {team}."),
    "notification.commitment_to_confirm": (
        "请确认为项目“{project}”承诺 {quantity} {measure} {resource}。",
        "Please confirm {quantity} {measure} of {resource} for the project {project}.",
    ),
    "notification.project_active": (
        "项目“{project}”已启动，截止 {deadline}。",
        "The project {project} is under way; deadline {deadline}.",
    ),
    "notification.project_joined": ("您已参与项目“{project}”。", "You take part in the project {project}."),
    "notification.project_cancelled": (
        "项目“{project}”已取消：{reason}",
        "The project {project} was cancelled: {reason}",
    ),
    "notification.project_closed": (
        "项目“{project}”已结项：{outcome}。",
        "The project {project} is closed: {outcome}.",
    ),
    "notification.project_closing": (
        "项目“{project}”将于 {deadline} 截止，还有 {undelivered} 份承诺未交付。",
        "The project {project} closes at {deadline}; {undelivered} committed unit(s) are still to deliver.",
    ),
    "notification.responsibility_assigned": (
        "项目“{project}”：请在 {due_at} 前完成“{task}”。",
        "The project {project}: please do “{task}” by {due_at}.",
    ),
    "notification.responsibility_overdue": (
        "项目“{project}”的“{task}”已过期限 {due_at}，尚未完成（已告知{level}）。",
        "The project {project}: “{task}” was due {due_at} and is not done (told to {level}).",
    ),
    "notification.shift_promoted": (
        "“{project}”的班次“{shift}”有人取消，您已从候补转为报名成功，{starts_at} 开始。",
        "A place freed up on the shift {shift} of {project}: you moved up from the waiting list. It starts at {starts_at}.",
    ),
    "notification.shift_cancelled": (
        "“{project}”的班次“{shift}”（{starts_at} 开始）已被组织者取消：{reason_code}。",
        "The shift {shift} of {project} (starting {starts_at}) was cancelled by the organiser: {reason_code}.",
    ),
    "notification.proposal_approved": (
        "您提议的需求“{title}”已通过审核，已发布到社区需求清单。",
        "Your proposed need {title} was approved and published on the community's need list.",
    ),
    "notification.proposal_rejected": (
        "您提议的需求“{title}”未通过：{reject_reason}",
        "Your proposed need {title} was not taken up: {reject_reason}",
    ),
    "notification.redemption_ready": (
        "“{reward}”可以领取了：请在 {pickup_by} 前到 {place} 出示领取码 {pickup_code}。",
        "{reward} is ready: show the code {pickup_code} at {place} by {pickup_by}.",
    ),
    "notification.pickup_codes_guessed": (
        "{name} 在您的柜台多次输错领取码，之后的尝试需要等待。如非误输，请告知街道管理员。",
        "{name} typed wrong pickup codes at your counter again and again; further tries now wait."
        " If this is not a typing slip, tell the street's administrators.",
    ),
    "notification.wish_confirmed": (
        "居民已确认您完成的心愿“{wish}”（+{points} 积分）。",
        "The resident confirmed the wish {wish} you fulfilled (+{points} points).",
    ),
    "notification.wish_withdrawn": (
        "您认领的心愿“{wish}”已撤回。",
        "The wish {wish} you claimed was withdrawn.",
    ),
    "notification.wish_claimed": ("{name} 认领了您的心愿“{wish}”。", "{name} claimed your wish {wish}."),
    "notification.wish_released": (
        "您的心愿“{wish}”的认领已放弃，重新开放认领。",
        "Your wish {wish} is open again: its claim was released.",
    ),
    "notification.wish_fulfilled": (
        "您的心愿“{wish}”已标记完成，请确认。",
        "Your wish {wish} is marked fulfilled: please confirm.",
    ),
    "notification.wish_expired": (
        "您的心愿“{wish}”到期无人认领。",
        "Your wish {wish} expired: nobody claimed it in time.",
    ),
    "notification.certificate_requested": (
        "{name} 申请{community}出具志愿服务证明，等待您审核。",
        "{name} asks {community} for a volunteer service certificate: it waits for your decision.",
    ),
    "notification.certificate_issued": (
        "{community}已为您出具志愿服务证明，编号 {number}。",
        "{community} issued your volunteer service certificate, number {number}.",
    ),
    "notification.certificate_refused": (
        "{community}未予出具您申请的志愿服务证明：{refusal_reason}。",
        "{community} did not issue the certificate you asked for: {refusal_reason}.",
    ),
    "notification.certificate_revoked": (
        "{community}撤销了您的志愿服务证明 {number}：{revocation_reason}。",
        "{community} revoked your certificate {number}: {revocation_reason}.",
    ),
    "notification.service_record_corrected": (
        "{community}更正了您的服务记录“{what}”（{served_at}）：由 {was} 小时改为 {hours} 小时（{correction_reason}）。",
        "{community} corrected the line {what} ({served_at}) of your service record:"
        " {hours} h instead of {was} h ({correction_reason}).",
    ),
    "notification.party_report_pending": (
        "{name} 向{community}报到（双报到），等待您确认。",
        "{name} reported in to {community} as a party member: please confirm or decline.",
    ),
    "notification.party_report_confirmed": (
        "{community}已确认您的双报到。",
        "{community} confirmed your report as a party member.",
    ),
    "notification.party_report_declined": (
        "{community}未确认您的双报到：{reason}",
        "{community} declined your report as a party member: {reason}",
    ),
    # The words params stand for.
    "notification_level.owner": ("责任方", "whoever holds it"),
    "notification_level.grid": ("网格", "the grid"),
    "notification_level.community": ("社区", "the community"),
    "notification_level.street": ("街道", "the street"),
    "notification_late.not_accepted": ("发布后无人接单", "not accepted after posting"),
    "notification_late.not_completed": ("发布后未完成", "not completed after posting"),
    "notification_reason.window_ended": (
        "服务时间已过，仍没有志愿者接单",
        "the time window ended before anyone accepted",
    ),
    # A cancelled shift's reason (market.shifts.models.ShiftCancelReason).
    "notification_reason.weather": ("天气原因", "the weather"),
    "notification_reason.venue_unavailable": ("场地无法使用", "the place is not available"),
    "notification_reason.too_few_volunteers": ("报名人数不足", "too few volunteers"),
    "notification_reason.project_changed": ("项目安排有变", "the project's plans changed"),
    "notification_reason.safety": ("安全原因", "safety"),
    "notification_reason.other": ("其他原因", "another reason"),
    "notification_application.resident": ("注册申请", "sign-up"),
    "notification_application.volunteer": ("志愿者申请", "volunteer application"),
    "duration.minutes": ("{n} 分钟", "{n} min"),
    "duration.hours": ("{n} 小时", "{n} h"),
    "duration.days": ("{n} 天", "{n} days"),
    # The bell and the inbox.
    "nav.notifications": ("消息", "Messages"),
    "notifications.bell_label": ("消息，{count} 条未读", "Messages, {count} unread"),
    "notifications.title": ("我的消息", "My messages"),
    "notifications.empty": ("还没有消息。", "No messages yet."),
    "notifications.unread_only": ("只看未读", "Unread only"),
    "notifications.show_all": ("全部消息", "All messages"),
    "notifications.unread": ("未读", "Unread"),
    "notifications.open": ("查看", "Open"),
    "notifications.mark_read": ("标为已读", "Mark read"),
    "notifications.mark_all_read": ("全部标为已读", "Mark all read"),
    "notifications.total": ("共 {total} 条，{unread} 条未读", "{total} in all, {unread} unread"),
    "notice.notification_read": ("已标为已读。", "Marked read."),
    "notice.notifications_all_read": ("全部消息已标为已读。", "Every message is marked read."),
}
