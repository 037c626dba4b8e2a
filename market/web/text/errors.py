"""Page text for every refusal a service can raise: `error.<code>`, in Chinese and English.

A page shows a refusal by its code, so these texts carry no values; they say what
is wrong and, where there is one, what to do. `tests/web/test_text.py` scans the
services for codes and fails when one has no text here.
"""

TEXT: dict[str, tuple[str, str]] = {
    # The codes every refusal falls back to (market/errors.py)
    "error.invalid_input": (
        "填写的内容有误，请检查后重试。",
        "Something in what you entered is not right; check it and try again.",
    ),
    "error.not_authenticated": ("请先登录。", "Please log in first."),
    "error.forbidden": ("您没有权限做这件事。", "You are not allowed to do this."),
    "error.not_found": ("没有找到要找的内容。", "What you are looking for does not exist."),
    "error.conflict": (
        "情况已有变化，请刷新后再试。",
        "Things have changed meanwhile; reload and try again.",
    ),
    "error.unprocessable": (
        "这件事无法按要求办理，请检查后重试。",
        "This cannot be done as asked; check it and try again.",
    ),
    "error.too_many_requests": ("操作太频繁，请稍后再试。", "Too many attempts; please wait and try again."),
    "error.too_many_open_orders": (
        "您已有多个订单在办理中，请等其中一个完成或取消后再下单。",
        "You already have the most orders open at once; wait until one is done, or cancel one.",
    ),
    "error.too_many_plans": (
        "派单方案生成太频繁，请一分钟后再试。",
        "Dispatch plans were run too often; try again in a minute.",
    ),
    "error.busy_try_again": (
        "有人正在办理同一件事，您的操作没有生效，请再试一次。",
        "Someone was working on the same records; nothing was changed. Please try again.",
    ),
    "error.invalid_idempotency_key": (
        "请求的幂等键无效（长度须为 1 到 200 个字符）。",
        "The Idempotency-Key must be 1 to 200 characters long.",
    ),
    "error.idempotency_key_reused": (
        "这个幂等键已用于另一个请求。",
        "This Idempotency-Key was already used for a different request.",
    ),
    "error.too_deeply_nested": (
        "提交的数据层级太深，无法处理。",
        "What was sent is nested too deeply to be read.",
    ),
    # Accounts, roles and areas
    "error.invalid_credentials": ("手机号或密码不正确。", "Wrong phone number or password."),
    "error.too_many_failed_attempts": (
        "失败次数太多，请稍等几分钟再试。",
        "Too many failed attempts; please wait a few minutes and try again.",
    ),
    "error.wrong_current_password": ("当前密码不正确。", "The current password is not right."),
    "error.phone_taken": ("这个手机号已经注册过了。", "An account with this phone number already exists."),
    "error.area_required": ("请为这个账号选择所属区域。", "Choose the home area of this account."),
    "error.role_not_grantable": ("您不能授予所选的身份。", "You cannot give the roles chosen."),
    "error.role_required": ("您的身份不能做这件事。", "Your role does not allow this."),
    "error.user_not_found": ("没有找到这位用户。", "This person does not exist."),
    "error.admin_required": (
        "只有系统管理员可以新建街道或修改街道名称。",
        "Only an administrator can create or rename a street.",
    ),
    "error.manager_required": (
        "只有本社区的管理人员可以做这件事。",
        "Only the community's managers can do this.",
    ),
    "error.outside_your_area": ("这超出了您负责的区域。", "This is outside your area."),
    "error.outside_your_community": ("这不在您的社区范围内。", "This is outside your community."),
    "error.area_not_found": ("没有找到这个区域。", "This area does not exist."),
    "error.community_not_found": ("没有找到这个社区。", "This community does not exist."),
    "error.area_code_taken": ("这个区域编码已被使用。", "This area code is already in use."),
    "error.area_codes_exhausted": (
        "上级区域下已没有可用编码，请联系系统管理员。",
        "No area codes are left under this parent; contact an administrator.",
    ),
    "error.invalid_area_code": (
        "区域编码不对：位数要符合这一级，并以上级区域的编码开头。",
        "The area code is wrong: it needs the digits of its level and must start with the parent's code.",
    ),
    "error.area_too_deep": ("楼栋下面不能再添加区域。", "A building cannot contain other areas."),
    # Importing the area tree: each row's problems (market/areas/service.py `import_rows`)
    "error.area_code_malformed": (
        "编码不对：只能是数字，街道 9 位，每下一级多 3 位（社区 12 位、网格 15 位、小区 18 位、楼栋 21 位）。",
        "The code is not valid: digits only, 9 for a street and 3 more for each level below "
        "(community 12, grid 15, compound 18, building 21).",
    ),
    "error.area_code_duplicate_in_file": (
        "这个编码在文件中出现了不止一次。",
        "This code appears more than once in the file.",
    ),
    "error.area_name_required": ("请填写名称。", "Fill in the name."),
    "error.area_name_too_long": ("名称最多 100 个字。", "The name has at most 100 characters."),
    "error.area_parent_unknown": (
        "找不到这个上级编码：它既不在系统里，也不在文件里。",
        "No area has this parent code, in the system or in the file.",
    ),
    "error.area_code_wrong_length": (
        "编码位数与这一级不符（街道 9 位，社区 12 位，网格 15 位，小区 18 位，楼栋 21 位）。",
        "The code's length does not fit its level (street 9, community 12, grid 15, compound 18, "
        "building 21 digits).",
    ),
    "error.area_code_not_under_parent": (
        "编码要以上级区域的编码开头。",
        "The code must start with its parent's code.",
    ),
    "error.import_has_problems": (
        "文件中有的行有问题，什么都没有导入。请改正后再导入。",
        "Some rows of the file have problems; nothing was imported. Correct them and import again.",
    ),
    # Uploaded spreadsheets (market/imports.py)
    "error.file_missing": ("请选择要上传的文件。", "Choose a file to upload."),
    "error.file_empty": ("文件是空的。", "The file is empty."),
    "error.file_too_large": (
        "文件太大：最大 5 MB。请分成几个文件上传。",
        "The file is too large: at most 5 MB. Split it into several files.",
    ),
    "error.not_a_spreadsheet": (
        "这不是表格文件：请上传 Excel（.xlsx）或 CSV 文件。",
        "This is not a spreadsheet: upload an Excel (.xlsx) or CSV file.",
    ),
    "error.columns_missing": (
        "文件缺少必需的列：请用下载的模板，保留第一行的列名。",
        "The file lacks required columns: use the downloaded template and keep its first row of headings.",
    ),
    "error.too_many_rows": (
        "文件的行数太多：最多 20000 行。请分成几个文件上传。",
        "The file has too many rows: at most 20,000. Split it into several files.",
    ),
    "error.not_a_community": ("请选择一个社区。", "Choose a community."),
    "error.report_level_above_area": (
        "您负责的区域在这一层级的一个区域之内，无法在这一层级比较。",
        "Your area lies inside one area of that level: there is nothing of yours to compare at it.",
    ),
    "error.not_in_a_community": ("这个地点不属于任何社区。", "This place is not inside a community."),
    "error.not_in_a_street": ("这个地点不属于任何街道。", "This place is not inside a street."),
    "error.unknown_category": (
        "没有这个服务类别，请重新选择。",
        "There is no such service category; choose another.",
    ),
    "error.category_exists": ("这个服务类别已经存在。", "This service category already exists."),
    "error.category_not_found": ("没有找到这个服务类别。", "This service category does not exist."),
    "error.notification_not_found": ("没有找到这条消息。", "This message does not exist."),
    # Orders and offers
    "error.order_not_found": ("没有找到这个点单。", "This order does not exist."),
    "error.illegal_transition": (
        "当前状态下不能这样操作，请刷新查看最新状态。",
        "This cannot be done in its current state; reload to see where it stands.",
    ),
    "error.area_too_broad": (
        "请选择需要服务的具体小区或楼栋。",
        "Choose the compound or building where the service is needed.",
    ),
    "error.invalid_window": (
        "请填写开始和结束时间，结束时间要晚于开始时间。",
        "Give both a start and an end time, the end after the start.",
    ),
    "error.window_in_past": (
        "这个时间段已经过去了，请重新选择。",
        "This time window has already passed; choose another.",
    ),
    "error.window_too_long": ("服务时间段最长 14 天。", "A time window can be at most 14 days long."),
    "error.window_too_far": ("最多只能预约 90 天以内的服务。", "Orders can be posted at most 90 days ahead."),
    "error.window_passed": (
        "这个点单的服务时间已过，不能再派单。",
        "This order's time window has passed; it can no longer be offered.",
    ),
    "error.volunteers_or_team": (
        "请选择志愿者，或选择一支服务队（只选其一）。",
        "Choose the volunteers, or a team (one of the two).",
    ),
    "error.direct_needs_one": ("定向派单只能选一位志愿者。", "A direct offer goes to exactly one volunteer."),
    "error.pool_needs_several": ("抢单至少要选两位志愿者。", "A pool offer needs two or more volunteers."),
    "error.team_dispatch_is_pool": (
        "派给服务队时请选择抢单方式。",
        "An offer to a team is a pool offer; choose pool.",
    ),
    "error.no_team_member_eligible": (
        "这支服务队里没有人能接这个点单。",
        "No one in this team can be offered this order.",
    ),
    "error.volunteers_not_eligible": (
        "所选志愿者中有人不能接这个点单（不服务该区域、没有这项技能、那时没空、已婉拒、暂停接单、已满负荷或就是点单人）。",
        "Some chosen volunteers cannot be offered this order (they do not serve the area, lack the skill, are not free then, declined it, are paused, at capacity or posted it).",
    ),
    "error.offer_not_found": ("没有找到这个派单。", "This offer does not exist."),
    "error.offer_expired": ("这个派单已经超时了。", "This offer has expired."),
    "error.offer_not_pending": ("这个派单已经处理过了。", "This offer has already been answered or closed."),
    "error.order_not_open": (
        "这个点单已经不能认领：已有人接单或已派给别人。",
        "This order is no longer open: someone has taken it or it has been offered.",
    ),
    "error.not_eligible": ("这个点单您不能接。", "You cannot take this order."),
    "error.not_served_before": (
        "只能点名以前为您服务过的志愿者。",
        "Ask only for a volunteer who has served you before.",
    ),
    "error.order_taken": (
        "这个点单已被其他志愿者接走了。",
        "Another volunteer has already taken this order.",
    ),
    "error.at_capacity": (
        "您手上的任务已满，请先完成已接的点单。",
        "You already hold as many orders as you can; finish one first.",
    ),
    "error.not_assigned": (
        "只有接单的志愿者可以做这件事。",
        "Only the volunteer who accepted this order can do this.",
    ),
    "error.already_checked_out": ("您已经签退过了。", "You have already checked out."),
    "error.check_in_too_early": (
        "还没到签到时间：签到时间写在任务上。",
        "It is too early to check in: the task shows when check-in opens.",
    ),
    "error.check_in_too_late": (
        "服务时间段已结束，不能再签到。请联系网格员。",
        "The order's time window has ended, so check-in is closed. Please contact the grid worker.",
    ),
    "error.hurried_recently": (
        "您刚催办过这个点单，请稍后再催。",
        "You hurried this order a short while ago; please wait before hurrying it again.",
    ),
    "error.not_checked_out": ("请先签退，再标记服务完成。", "Check out before marking the service done."),
    "error.not_requester": (
        "只有发起点单的居民可以做这件事。",
        "Only the resident who posted the order can do this.",
    ),
    "error.reopen_window_passed": (
        "这个点单确认已久，不能再重新打开了；如有问题请联系网格员，或重新下单。",
        "It is too long since this order was confirmed to reopen it; call your grid worker or post a new order.",
    ),
    "error.complaint_needs_comment": (
        "投诉请在评价里写明是什么问题。",
        "Say in the comment what the complaint is about.",
    ),
    # Follow-ups
    "error.followup_not_found": ("没有找到这条回访。", "This follow-up does not exist."),
    "error.followup_already_recorded": (
        "这条回访已经登记过结果了。",
        "This follow-up's outcome is already recorded.",
    ),
    # Dispatch and allocation plans
    "error.plan_not_found": ("没有找到这个方案。", "This plan does not exist."),
    "error.plan_already_applied": (
        "这个方案已经执行过了，请重新生成。",
        "This plan has already been applied; make a new one.",
    ),
    "error.pairs_already_applied": (
        "所选的派单已经执行过了（可能是别人刚刚执行的），请刷新后查看结果。",
        "The chosen pairs have already been applied (perhaps by someone else just now); reload to see the outcome.",
    ),
    "error.pair_not_found": ("这个方案里没有这一对。", "This pair is not in the plan."),
    "error.volunteer_not_eligible": (
        "这位志愿者不能接这个点单，请另选一位。",
        "This volunteer may not be offered this order; choose another.",
    ),
    "error.orders_outside_area": (
        "所选点单中有的不在这个区域，请刷新后重试。",
        "Some chosen orders are not in this area; reload and try again.",
    ),
    "error.pairs_not_in_plan": (
        "所选的派单建议不在这个方案里，请刷新后重试。",
        "Some chosen pairs are not in this plan; reload and try again.",
    ),
    "error.flows_not_in_plan": (
        "所选的分配建议不在这个方案里，请刷新后重试。",
        "Some chosen allocations are not in this plan; reload and try again.",
    ),
    "error.nothing_to_apply": (
        "这个方案已没有可执行的内容，请重新生成。",
        "Nothing in this plan can be applied any more; make a new one.",
    ),
    # Micro-wishes
    "error.wish_not_found": ("没有找到这个心愿。", "This wish does not exist."),
    "error.deadline_in_past": ("截止时间要晚于现在。", "The deadline must be in the future."),
    "error.deadline_too_far": ("截止时间最多在 90 天以内。", "The deadline can be at most 90 days ahead."),
    "error.deadline_passed": ("已经过了截止时间。", "The deadline has passed."),
    "error.too_many_wishes": (
        "您在心愿墙上的心愿已达上限，请等心愿实现或撤下一个后再发布。",
        "You have as many wishes on the wall as allowed; wait until one is fulfilled or withdraw one.",
    ),
    "error.own_wish": ("不能认领自己的心愿。", "You cannot claim your own wish."),
    "error.not_claimer": ("只有认领人可以做这件事。", "Only whoever claimed the wish can do this."),
    "error.not_resident": (
        "只有发布心愿的居民可以做这件事。",
        "Only the resident who posted the wish can do this.",
    ),
    # Volunteers and teams
    "error.volunteer_not_found": ("没有找到这位志愿者。", "This volunteer does not exist."),
    "error.not_a_volunteer": ("所选的人中有人不是在册志愿者。", "Someone chosen is not an active volunteer."),
    "error.not_your_profile": (
        "只有志愿者本人或其居住地的管理人员可以修改这份资料。",
        "Only the volunteer or the managers of the area they live in can change this profile.",
    ),
    "error.outside_home_street": (
        "服务区域只能选在志愿者居住的街道内。",
        "Serving areas must lie within the street the volunteer lives in.",
    ),
    "error.duplicate_skill": ("每项技能只能填写一次。", "List each skill once."),
    "error.team_not_found": ("没有找到这支服务队。", "This team does not exist."),
    "error.team_name_taken": (
        "本社区已有同名服务队，请换个名称。",
        "The community already has a team with this name; choose another.",
    ),
    "error.team_full": ("服务队人数已达上限。", "The team has as many members as allowed."),
    "error.team_inactive": (
        "这支服务队已停用，请先重新启用。",
        "This team is inactive; reactivate it first.",
    ),
    "error.team_manager_required": (
        "只有本社区的管理人员可以修改服务队。",
        "Only the community's managers can edit a team.",
    ),
    "error.leader_or_manager_required": (
        "只有队长或社区管理人员可以调整队员。",
        "Only the team leader or the community's managers can change the members.",
    ),
    "error.leader_not_member": ("新队长必须是本队队员。", "The new leader must be a member of the team."),
    "error.leader_cannot_leave": (
        "队长不能退出，请先指定其他队员当队长。",
        "The leader cannot leave; make another member the leader first.",
    ),
    "error.already_a_member": ("这位志愿者已经是队员了。", "This volunteer is already in the team."),
    "error.member_not_found": ("这个人不是本队队员。", "This person is not a member of the team."),
    "error.volunteer_outside_community": (
        "这位志愿者既不住在该社区，也不服务该社区。",
        "This volunteer neither lives in nor serves the community.",
    ),
    # Co-building units and their resources
    "error.unit_not_found": ("没有找到这个共建单位。", "This unit does not exist."),
    "error.not_your_unit": ("您不能代表这个共建单位办理。", "You cannot act for this unit."),
    "error.not_a_unit_admin": (
        "所选的人中有人不是共建单位管理员。",
        "Someone chosen is not an active unit admin.",
    ),
    "error.community_not_paired": (
        "这个单位还没有与所选社区结对共建。",
        "The unit is not paired with some of the chosen communities.",
    ),
    "error.community_in_use": (
        "这个单位还有资源在服务该社区，请先修改这些资源。",
        "Some of the unit's resources still serve this community; change them first.",
    ),
    "error.resource_not_found": ("没有找到这项资源。", "This resource does not exist."),
    "error.quantity_below_committed": (
        "数量不能少于已承诺或已交付的数量。",
        "The quantity cannot drop below what is committed or delivered.",
    ),
    "error.status_not_settable": ("这个状态不能手动设置。", "This status cannot be set by hand."),
    "error.already_expired": (
        "这个截止日期已经过了，请选以后的日期。",
        "That end date has already passed; choose a later one.",
    ),
    "error.window_order": ("开始时间要早于结束时间。", "The start must come before the end."),
    # Needs and projects
    "error.need_not_found": ("没有找到这项需求。", "This need does not exist."),
    "error.need_not_editable": (
        "这项需求已立项或已关闭，不能再修改。",
        "This need is in a project or closed; it can no longer change.",
    ),
    "error.need_not_available": (
        "所选需求中有的不能纳入项目（不属于本社区、已不是待对接或已过期限）。",
        "A chosen need cannot join a project (not this community's, no longer open, or past its deadline).",
    ),
    "error.resource_not_available": (
        "所选资源中有的不能承诺（已撤回、不服务本社区、期限内不可用或数量不够）。",
        "A chosen resource cannot be committed (withdrawn, not serving this community, not available in time, or not enough left).",
    ),
    "error.duplicate_resource": (
        "同一项资源在一个项目中只能承诺一次。",
        "Each resource can be committed once per project.",
    ),
    "error.one_assignee": (
        "每项责任只能指定一个负责方：单位、个人或服务队。",
        "Give each responsibility exactly one owner: a unit, a person or a team.",
    ),
    "error.project_not_found": ("没有找到这个项目。", "This project does not exist."),
    "error.need_required": (
        "项目有多项需求时，请为每项资源承诺选定它满足的需求。",
        "The project has several needs: say which one each commitment serves.",
    ),
    "error.need_not_in_project": (
        "资源承诺只能满足本项目的需求。",
        "A commitment can only serve one of the project's needs.",
    ),
    "error.exceeds_need": (
        "承诺数量超过了这项需求还缺的数量。",
        "This is more than the need still lacks.",
    ),
    "error.due_passed": ("完成期限不能早于现在。", "The due date must be in the future."),
    "error.due_after_deadline": (
        "完成期限不能晚于项目截止时间。",
        "A responsibility is due by the project's deadline at the latest.",
    ),
    "error.nothing_to_change": (
        "请选择新的负责方或新的完成期限。",
        "Choose a new holder, a new due date or both.",
    ),
    "error.close_note_required": (
        "这个项目没有要交付的资源，也没有责任分工：请写明为什么它已经完成。",
        "Nothing was to be delivered or done: say why the project is complete.",
    ),
    "error.commitment_not_found": ("这个项目里没有这项资源承诺。", "This project has no such commitment."),
    "error.already_confirmed": ("这项资源承诺已经确认过了。", "This commitment is already confirmed."),
    "error.exceeds_commitment": (
        "交付数量超过了还未交付的承诺数量。",
        "This is more than is still to deliver on the commitment.",
    ),
    "error.already_participating": ("这位志愿者已经参加了这个项目。", "This volunteer already takes part."),
    "error.participant_not_found": ("这个项目里没有这位参与者。", "This project has no such participant."),
    "error.own_hours": (
        "不能给自己记录、更正或证明服务时长，请由另一位管理员办理。",
        "Nobody records, corrects or certifies their own service; another manager does.",
    ),
    "error.hours_beyond_span": (
        "时长不能超过项目从开始到截止的时长。",
        "The hours cannot exceed the time from the project's start to its deadline.",
    ),
    "error.responsibility_not_found": (
        "这个项目里没有这项责任。",
        "This project has no such responsibility.",
    ),
    "error.not_responsible": (
        "只有负责方或社区管理人员可以标记完成。",
        "Only whoever is responsible or a manager can mark this done.",
    ),
    "error.already_done": ("这项责任已经完成了。", "This responsibility is already done."),
    # Points
    "error.exceeds_credits": ("积分不足。", "Not enough points."),
    "error.account_not_found": ("没有找到这个积分账户。", "This points account does not exist."),
    "error.transfer_not_found": ("没有找到这笔积分记录。", "This transfer does not exist."),
    "error.transfer_not_permitted": (
        "其中有您无权办理的积分转账。",
        "Some of these transfers are not yours to make.",
    ),
    "error.transfer_conflict": (
        "有人同时提交了相同编号的转账，请重新提交查看结果。",
        "Another request made a transfer with the same id at the same moment; send it again to see the result.",
    ),
    "error.not_reversible": (
        "这笔记录不能冲正：冻结中的请撤销，冲正记录请改用调整。",
        "This transfer cannot be reversed: release a held one, and make an adjustment instead of reversing a reversal.",
    ),
    "error.already_reversed": ("这笔记录已经冲正过了。", "This transfer has already been reversed."),
    # Who may move points (market/ledger/authority.py Refusal), and adjustments
    "error.code_made_by_the_service": (
        "这类积分记录由系统自动生成，不能手工办理。",
        "The service makes transfers of this kind itself.",
    ),
    "error.accounts_not_for_this_code": (
        "这类转账不能在这两类账户之间办理。",
        "This kind of transfer does not move points between these kinds of account.",
    ),
    "error.role_may_not_transfer": (
        "您的身份不能办理这笔积分转账。",
        "Your role may not make this transfer.",
    ),
    "error.own_account": (
        "不能手工调整自己账户的积分。",
        "Nobody moves points into or out of their own account by hand.",
    ),
    "error.account_outside_your_area": (
        "其中有账户不在您管理的区域内。",
        "One of the accounts is outside your area.",
    ),
    "error.accounts_in_different_areas": (
        "这两个账户不属于同一个社区或街道。",
        "The two accounts belong to different communities or streets.",
    ),
    "error.adjustment_reason_required": ("请选择调整原因。", "Choose the reason for the adjustment."),
    "error.adjustment_memo_required": ("请填写调整说明。", "Say why in the memo."),
    "error.adjustment_needs_second_manager": (
        "超过街道限额的调整须先冻结，由另一位管理人员复核入账。",
        "An adjustment above the street's threshold must be held for a second manager to post.",
    ),
    "error.adjustment_hold_too_long": (
        "待复核的调整最多保留 7 天。",
        "A held adjustment waits 7 days at most.",
    ),
    "error.maker_cannot_post": (
        "调整须由另一位管理人员复核入账，发起人不能自己入账。",
        "A second manager posts this adjustment, not the one who made it.",
    ),
    "error.not_a_member_account": ("只能调整个人积分账户。", "Adjustments are made to members' accounts."),
    "error.pending_adjustment_not_found": (
        "没有找到这笔待复核的调整。",
        "This held adjustment does not exist.",
    ),
    "error.street_not_found": ("没有找到这个街道。", "This street does not exist."),
    "error.street_admin_required": (
        "只有本街道管理员可以设置。",
        "Only the street's admins set this.",
    ),
    "error.expiry_months_required": (
        "请填写积分多少个月后过期。",
        "Say after how many months points expire.",
    ),
    "error.gift_to_self": ("不能给自己赠送积分。", "You cannot give points to yourself."),
    "error.gift_too_large": (
        "单次赠送的积分超过了社区上限。",
        "This gift is more than the community allows at once.",
    ),
    "error.gift_limit_reached": (
        "本月可赠送的积分不够了。",
        "This is more than you may still give this month.",
    ),
    # The transfer engine's refusals (market/ledger/engine.py Result), seen on the ledger desk
    "error.exists_with_different_fields": (
        "这个转账编号已被另一笔内容不同的转账使用。",
        "This transfer id is already used by a transfer with other details.",
    ),
    "error.accounts_must_be_different": (
        "转出和转入不能是同一个账户。",
        "The two accounts must be different.",
    ),
    "error.accounts_must_have_the_same_asset": (
        "两个账户的积分类型必须相同。",
        "Both accounts must hold the same kind of points.",
    ),
    "error.flags_are_mutually_exclusive": (
        "所选的转账选项不能同时使用。",
        "These transfer options cannot be used together.",
    ),
    "error.pending_id_required": (
        "请填写要入账或撤销的冻结转账编号。",
        "Give the id of the held transfer to post or release.",
    ),
    "error.pending_id_must_be_empty": (
        "只有入账或撤销冻结转账时才填写冻结转账编号。",
        "Give a held transfer's id only when posting or releasing it.",
    ),
    "error.timeout_reserved_for_pending_transfer": (
        "只有冻结转账可以设置超时。",
        "Only a held transfer can have a timeout.",
    ),
    "error.amount_required": ("请填写积分数额。", "Give the amount."),
    "error.amount_must_be_positive": ("积分数额必须大于零。", "The amount must be more than zero."),
    "error.code_required": ("请选择转账类型。", "Choose the kind of transfer."),
    "error.pending_transfer_not_found": ("没有找到这笔冻结转账。", "This held transfer does not exist."),
    "error.pending_transfer_not_pending": ("这笔转账不是冻结转账。", "That transfer is not a held one."),
    "error.pending_transfer_has_different_accounts": (
        "账户与冻结转账的账户不一致。",
        "The accounts differ from the held transfer's.",
    ),
    "error.pending_transfer_has_different_code": (
        "转账类型与冻结转账不一致。",
        "The kind of transfer differs from the held transfer's.",
    ),
    "error.pending_transfer_already_posted": (
        "这笔冻结转账已经入账了。",
        "This held transfer has already been posted.",
    ),
    "error.pending_transfer_already_voided": (
        "这笔冻结转账已经撤销了。",
        "This held transfer has already been released.",
    ),
    "error.pending_transfer_expired": ("这笔冻结转账已经超时了。", "This held transfer has timed out."),
    "error.exceeds_pending_amount": ("入账数额超过了冻结的数额。", "The amount is more than was held."),
    "error.void_amount_must_match": (
        "撤销的数额必须与冻结的数额相同。",
        "A release must be for the whole amount held.",
    ),
    "error.linked_event_failed": (
        "同组的另一笔转账没有成功，这笔也没有办理。",
        "Another transfer linked with this one failed, so this one was not made.",
    ),
    "error.linked_event_chain_open": (
        "关联转账组没有结束：最后一笔不能勾选“关联”。",
        "The linked group is not closed: the last transfer must not be linked.",
    ),
    # Rewards
    "error.reward_not_found": ("没有找到这个兑换物品。", "This reward does not exist."),
    "error.reward_closed": ("这个物品已停止兑换。", "This reward is no longer offered."),
    "error.not_offered_here": (
        "您所在的社区不能兑换这个物品。",
        "This reward is not offered in your community.",
    ),
    "error.limit_per_person_reached": (
        "已达到每人兑换上限。",
        "You have redeemed as many of this reward as allowed.",
    ),
    "error.out_of_stock": ("库存不够了。", "Not enough left in stock."),
    "error.redemption_not_found": ("没有找到这条兑换记录。", "This redemption does not exist."),
    "error.redemption_not_pending": (
        "这条兑换已经领取、取消或过期了。",
        "This redemption has already been picked up, cancelled or has expired.",
    ),
    "error.pickup_deadline_passed": ("已经过了领取期限。", "The pickup deadline has passed."),
    "error.pickup_code_ambiguous": (
        "有几条待领取的兑换用的是这个领取码，请选出这位居民的那一条。",
        "Several redemptions waiting for pickup have this code; choose this person's.",
    ),
    "error.wrong_pickup_code": (
        "领取码不对，请核对后重试。",
        "The pickup code does not match; check it and try again.",
    ),
    "error.resident_not_found": ("没有找到这位居民。", "This resident does not exist."),
    "error.not_a_resident": (
        "此人不是居民，不能为其下单。",
        "This person is not a resident; no order can be entered for them.",
    ),
    "error.resident_inactive": ("这位居民的账号已停用。", "This resident's account is deactivated."),
    "error.invalid_channel": ("请选择电话、上门或走访。", "Choose phone call, walk-in or round."),
    "error.outside_their_community": (
        "只能在居民自己所在的社区下单。",
        "The resident can order services only in their own community.",
    ),
    "error.pause_in_past": ("暂停的截止日期不能早于今天。", "The pause cannot end before today."),
    "error.pause_too_long": ("暂停最长一年。", "A pause can last at most a year."),
    "error.profile_missing": ("请先填写志愿者资料。", "Fill in the volunteer profile first."),
    "error.street_required": (
        "请选择街道：密钥的辖区是一个街道。",
        "Choose a street: a key's jurisdiction is a street.",
    ),
    "error.invalid_system_name": (
        "系统名为 2 到 16 个小写字母、数字或下划线，以字母开头，且不能与来源名称相同。",
        "A system's name is 2 to 16 lower-case letters, digits or _, starting with a letter, "
        "and not a channel's own name.",
    ),
    "error.api_key_not_found": ("没有这个密钥。", "There is no such key."),
    "error.api_key_revoked": ("这个密钥已经作废。", "This key is revoked already."),
    # 双报到, unit reviews and resident credit
    "error.already_reported": ("您已经向社区报到过了。", "You have already reported in to your community."),
    "error.employer_required": (
        "请填写工作单位：选择共建单位，或填写单位名称、联系人和联系电话。",
        "Name your employer: choose a co-building unit, or give an organisation's name, contact and phone.",
    ),
    "error.decline_reason_required": ("请填写不通过的原因。", "Say why the report is declined."),
    "error.party_member_not_found": ("没有找到这名报到党员。", "This party member does not exist."),
    "error.party_member_not_confirmed": (
        "只有已确认报到的党员才能评定。",
        "Only members whose report is confirmed are evaluated.",
    ),
    "error.year_not_begun": ("这一年还没有开始。", "That year has not begun."),
    "error.not_a_street": ("请选择一个街道。", "Choose a street."),
    "error.not_a_participant": (
        "只有参加项目的居民和项目所在社区才能评价共建单位。",
        "Only the project's participants and its community rate its units.",
    ),
    "error.project_not_closed": ("项目结束后才能评价共建单位。", "Units are rated after the project closes."),
    "error.unit_not_in_project": ("这个单位没有参与该项目。", "That unit did not work on this project."),
    "error.already_rated": (
        "您已经评价过这个单位在本项目中的表现。",
        "You have already rated this unit for this project.",
    ),
    "error.credit_monthly_cap": (
        "这位居民本月的公约信用积分已达上限。",
        "This resident's compact credit for the month has reached its cap.",
    ),
    "error.doorplate_not_found": (
        "没有找到这个门牌码对应的地点。",
        "No place has this doorplate code.",
    ),
    "error.doorplate_revoked": (
        "这个门牌码已作废，请联系网格员更换门牌。",
        "This doorplate code was revoked; ask the grid worker for the new plate.",
    ),
    "error.doorplate_not_issued": (
        "这个地点没有可作废的门牌码。",
        "This place has no doorplate code to revoke.",
    ),
    "error.doorplate_changed": (
        "这个地点的门牌码在此页打开后已更换，请刷新门牌页后再操作。",
        "This place's code changed since the sheet was opened: reload the sheet and try again.",
    ),
    "error.informant_without_grid": (
        "您的住址不在任何网格内，无法上报。",
        "Your home is in no grid to report in.",
    ),
    "error.outside_your_grid": ("这超出了您所在的网格。", "This is outside your grid."),
}
