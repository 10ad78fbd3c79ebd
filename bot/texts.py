"""Every fixed string a user sees, one table per language.

Arabic is the default; a user whose Telegram client reports an English
`language_code` gets the English table, admins included. Answers themselves
(titles, excerpts, how a question was understood, the no-answer advice) stay
Arabic: they are about Arabic articles and questions. Strings are plain text
with `{placeholders}`; callers escape them for HTML.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FOLLOWS_PER_CHAT = 20

# --- answer content: Arabic for everyone -----------------------------------------------------

NO_ANSWER = {
    "no_terms": "لم أجد في سؤالك كلمات يمكن البحث عنها. اكتب أسماء أو أماكن أو أحداثاً محددة.",
    "unknown_terms": "لم أجد أي مقال يذكر كلمات سؤالك. جرّب كلمات أقل أو أسماء أو تواريخ أخرى.",
    "weak": "لم أجد إجابة واضحة عن سؤالك. جرّب كلمات أقل أو اسماً أو تاريخاً محدداً.",
    "empty_window": "لا توجد عندي أخبار في هذه الفترة.",  # a date with no articles in it
}
# Shown above results the engine is not sure of (SearchResult.confidence "low").
LOW_CONFIDENCE_HINT = "هذه أقرب النتائج إلى سؤالك، وقد لا تجيب عنه."
OUTSIDE_FILTERS = "لا توجد نتائج ضمن ما طلبت؛ هذه أقرب النتائج خارجه:"
ALSO = "وردت أيضاً في:"
UNTITLED = "(بلا عنوان)"
NO_SOURCE = "(بلا مصدر)"
ARTICLE_LINK = "رابط المقال"
FULL_TEXT_AT_SOURCE = "النص الكامل في المصدر"
ARTICLE_TOO_LONG = "المقال أطول من أن يُعرض هنا كاملاً، وهذا أوله."
FULL_ARTICLE = "📄 المقال"
NEXT_PAGE = "التالي ◀"
PREVIOUS_PAGE = "▶ السابق"
LATEST_TITLE = "أحدث المقالات"
NO_ARTICLES = "لا توجد مقالات بعد."
SOURCES_TITLE = "المصادر"
NO_SOURCES = "لا توجد مصادر بعد."
YOUR_FOLLOW = "متابعتك: "


@dataclass(frozen=True)
class Texts:
    """The fixed strings of one language."""

    language: str
    # readers
    empty_question: str
    not_a_question: str
    question_too_long: str  # {limit}
    text_only: str
    rate_limited: str
    error: str
    button_expired: str
    article_gone: str
    help: str
    help_admin: str
    # admins
    admin_only: str
    admin_private_only: str
    reindex_running: str  # {progress}
    reindex_started: str  # {data_dir}
    reindex_done: str
    reindex_index: str  # {passages} {terms} {seconds}
    reindex_total: str  # {seconds}
    reindex_failed: str  # {error}
    phase_scanning: str
    phase_building: str
    progress: str  # {phase} {files} {records}
    delete_usage: str
    deleted: str  # {id}
    no_such_article: str  # {id}
    refused_type: str  # {name}
    unnamed_file: str  # {name} of refused_type when the upload has no file name
    refused_size: str  # {name} {size} {limit}
    refused_over_limit: str  # {name} {limit}
    loaded: str  # {name}
    nothing_ingested: str  # {name}
    more_skipped: str  # {count}
    stats_title: str
    stats_articles: str
    stats_passages: str
    stats_sources: str
    stats_index: str  # {passages} {built_at} {seconds}
    stats_no_index: str
    stats_segments: str  # {count} {passages} {deleted} (a share) {last_merge}
    stats_questions: str  # {last_24h} {total}
    stats_latency: str  # {median}
    stats_reindexing: str  # {progress}
    # follows
    follow_usage: str
    follow_no_terms: str
    follow_too_many: str
    follow_group_admins_only: str
    follow_none: str
    follow_title: str
    follow_stopped: str
    follow_not_found: str
    follow_topic_too_long: str  # {limit}
    follow_added: str  # {topic} {where} {per_day}
    follow_already: str  # {topic} {where} {per_day}
    follow_from: str  # {sources}
    list_separator: str
    # feeds (admins)
    feeds_usage: str
    feeds_none: str
    feeds_line: str  # {name} {status} {articles}
    feeds_errors: str  # {errors} {last_error}
    feeds_more: str  # {count}
    feeds_refused: str  # {reason}
    feeds_added: str  # {url} {name}
    feeds_removed: str  # {url}
    feeds_paused: str  # {url}
    feeds_resumed: str  # {url}
    feeds_not_followed: str  # {url}
    opml_too_big: str  # {name} {limit}
    opml_refused: str  # {name} {reason}


AR = Texts(
    language="ar",
    empty_question="اكتب سؤالك بعد الأمر، مثلاً: ‎/ask ما رقم قرار مجلس الأمن؟",
    not_a_question="لم أجد في رسالتك كلمات أبحث عنها. اكتب سؤالك بالكلمات، مثلاً: من هو وزير الخارجية الإيراني؟",
    question_too_long="سؤالك طويل جداً. اختصره إلى {limit} حرف على الأكثر، واذكر الكلمات الأهم فقط.",
    text_only="أفهم الرسائل النصية فقط. اكتب سؤالك بالعربية.",
    rate_limited="أسئلة كثيرة في وقت قصير. انتظر دقيقة ثم أعد المحاولة.",
    error="حدث خطأ غير متوقع أثناء معالجة طلبك. حاول مرة أخرى بعد قليل.",
    button_expired="انتهت صلاحية هذا الزر. أرسل سؤالك من جديد.",
    article_gone="هذا المقال لم يعد موجوداً.",
    help="\n".join([
        "<b>بوت الأخبار</b>",
        "أرسل سؤالك بالعربية وسأجيبك بأفضل المقتطفات المطابقة من المقالات الإخبارية "
        "مع مصدر كل منها وتاريخه ورابطه.",
        "",
        "/ask &lt;سؤال&gt; — اسأل (في المجموعات أيضاً)",
        "/latest — أحدث المقالات",
        "/sources — المصادر وعدد مقالات كل منها",
        "/follow &lt;موضوع&gt; — تابع موضوعاً وتصلك أخباره الجديدة؛ /following — متابعاتك وإيقافها",
        "/help — هذه المساعدة",
        "",
        "في المجموعات: استخدم /ask أو اذكرني باسمي أو ردّ على إحدى رسائلي.",
        "في أي محادثة: اكتب ‎@اسم_البوت ثم سؤالك.",
        "نصيحة: الأسماء والأماكن والتواريخ تعطي نتائج أدق.",
    ]),
    help_admin="\n".join([
        "<b>للمشرفين</b>: /reindex و /stats و /delete &lt;رقم المقال&gt;، "
        "أو أرسل ملف ‎.txt أو ‎.jsonl أو ‎.json (أو ‎.gz) لتحميل مقالات.",
        "/feeds — مصادر الأخبار المتابعة؛ ‎/feeds add رابط [اسم] و‎/feeds remove رابط "
        "و‎/feeds pause|resume رابط، أو أرسل ملف ‎.opml لمتابعة مصادره.",
    ]),
    admin_only="هذا الأمر للمشرفين فقط.",
    admin_private_only="أوامر المشرفين تُكتب في المحادثة الخاصة مع البوت، لا في مجموعة ولا في رسالة معاد توجيهها.",
    reindex_running="إعادة الفهرسة جارية بالفعل — {progress}",
    reindex_started="بدأت إعادة الفهرسة من {data_dir}. سأرسل تقريراً عند الانتهاء.",
    reindex_done="انتهت إعادة الفهرسة",
    reindex_index="الفهرس: {passages} مقطعاً، {terms} كلمة، بُني في {seconds:.2f} ث",
    reindex_total="المدة الكلية: {seconds:.1f} ث",
    reindex_failed="فشلت إعادة الفهرسة: {error}",
    phase_scanning="فحص الملفات",
    phase_building="بناء الفهرس",
    progress="{phase}: {files} ملفاً، {records} مقالاً مقروءاً",
    delete_usage="الاستعمال: ‎/delete رقم_المقال",
    deleted="حُذف المقال {id} وحُدّث الفهرس.",
    no_such_article="لا يوجد مقال برقم {id}.",
    unnamed_file="هذا الملف",
    refused_type="رُفض {name}: نوع ملف غير مدعوم (المتوقع ‎.txt أو ‎.jsonl أو ‎.json أو ‎.gz لأحدها).",
    refused_size="رُفض {name}: حجمه {size:,} بايت، فوق حد التحميل {limit:,} بايت.",
    refused_over_limit="رُفض {name}: فوق حد التحميل {limit:,} بايت.",
    loaded="حُمّل {name}",
    nothing_ingested="رُفض {name}: لم يُحمَّل منه شيء",
    more_skipped="… و{count} سجلاً آخر تُخطّي",
    stats_title="<b>إحصاءات</b>",
    stats_articles="المقالات: {count}",
    stats_passages="المقاطع: {count}",
    stats_sources="المصادر: {count}",
    stats_index="الفهرس: {passages} مقطعاً، بُني {built_at} في {seconds:.2f} ث",
    stats_no_index="الفهرس: لم يُبنَ",
    stats_segments="الأجزاء الجديدة: {count} ({passages} مقطعاً)، المحذوف {deleted:.1%}، آخر دمج {last_merge}",
    stats_questions="الأسئلة المجاب عنها: {last_24h} في آخر 24 ساعة، {total} منذ البداية",
    stats_latency="وسيط زمن الإجابة: {median}",
    stats_reindexing="إعادة الفهرسة جارية: {progress}",
    follow_usage="اكتب ما تريد متابعته بعد الأمر، مثلاً: ‎/follow الانتخابات العراقية",
    follow_no_terms="لم أجد في ما كتبت كلمات أتابع الأخبار بها. اكتب أسماء أو أماكن أو موضوعاً، مثلاً: زلزال تركيا.",
    follow_too_many=f"تتابع {MAX_FOLLOWS_PER_CHAT} موضوعاً، وهو الحد الأقصى. أوقف أحدها بالأمر ‎/following أولاً.",
    follow_group_admins_only="في المجموعات، يضيف المتابعات ويوقفها مشرفو المجموعة فقط.",
    follow_none="لا تتابع أي موضوع بعد. اكتب ‎/follow ثم الموضوع.",
    follow_title="متابعاتك",
    follow_stopped="أوقفت المتابعة.",
    follow_not_found="لم أجد هذه المتابعة.",
    follow_topic_too_long="الموضوع طويل جداً. اختصره إلى {limit} حرف على الأكثر.",
    follow_added="أتابع لك: {topic}{where}. سأرسل الأخبار الجديدة عنه، حتى {per_day} تنبيهات في اليوم."
                 " ‎/following لعرض متابعاتك وإيقافها.",
    follow_already="تتابع بالفعل: {topic}{where}. سأرسل الأخبار الجديدة عنه، حتى {per_day} تنبيهات في اليوم."
                   " ‎/following لعرض متابعاتك وإيقافها.",
    follow_from=" من {sources}",
    list_separator="، ",
    feeds_usage="الاستعمال: ‎/feeds للقائمة؛ ‎/feeds add رابط [اسم]؛ ‎/feeds remove رابط؛ ‎/feeds pause رابط؛"
                " ‎/feeds resume رابط؛ أو أرسل ملف ‎.opml لاستيراده",
    feeds_none="لا توجد مصادر متابعة. أضف واحداً بالأمر ‎/feeds add رابط [اسم]، أو أرسل ملف ‎.opml.",
    feeds_line="• {name} — {status}، {articles} مقالاً",
    feeds_errors="، {errors} أخطاء (آخرها: {last_error})",
    feeds_more="… و{count} غيرها (الأمر newsbot feeds list يعرضها كلها)",
    feeds_refused="رُفض: {reason}",
    feeds_added="أضيف {url} ({name})؛ تؤخذ مواده في الجولة التالية.",
    feeds_removed="أزيل {url} (تبقى مقالاته).",
    feeds_paused="أوقف {url} مؤقتاً.",
    feeds_resumed="استؤنف {url}.",
    feeds_not_followed="غير متابع: {url}",
    opml_too_big="رُفض {name}: فوق حد OPML البالغ {limit:,} بايت.",
    opml_refused="رُفض {name}: {reason}",
)

EN = Texts(
    language="en",
    empty_question="Write your question after the command, e.g. /ask ما رقم قرار مجلس الأمن؟",
    not_a_question="I found no words to search for in your message. Write your question in words (in Arabic).",
    question_too_long="Your question is too long: shorten it to at most {limit} characters, keeping the key words.",
    text_only="I only understand text messages. Write your question in Arabic.",
    rate_limited="Too many questions in a short time. Wait a minute and try again.",
    error="Something unexpected went wrong while handling your request. Please try again shortly.",
    button_expired="This button has expired. Send your question again.",
    article_gone="This article no longer exists.",
    help="\n".join([
        "<b>Arabic news bot</b>",
        "Send me a question in Arabic and I answer with the best-matching excerpts of the news articles "
        "I hold, each with its source, date and link.",
        "",
        "/ask &lt;question&gt; — ask (also in groups)",
        "/latest — the most recent articles",
        "/sources — sources and how many articles each has",
        "/follow &lt;topic&gt; — get new stories about a topic as they arrive; /following — list and stop",
        "/help — this help",
        "",
        "In a group: /ask, mention me, or reply to one of my messages.",
        "In any chat: type @botname followed by a question.",
    ]),
    help_admin="\n".join([
        "<b>Admin</b>: /reindex, /stats, /delete &lt;article id&gt;, "
        "send a .txt/.jsonl/.json (or .gz) file to load articles.",
        "/feeds — followed news feeds; /feeds add URL [name], /feeds remove URL, "
        "/feeds pause|resume URL; send an .opml file to follow its feeds.",
    ]),
    admin_only="This command is for admins only.",
    admin_private_only="Admin commands are typed in the private chat with the bot, not in a group "
                       "nor in a forwarded message.",
    reindex_running="A reindex is already running — {progress}",
    reindex_started="Reindexing from {data_dir}. I will send a report when it is done.",
    reindex_done="Reindex done",
    reindex_index="index: {passages} passages, {terms} terms, built in {seconds:.2f} s",
    reindex_total="total time: {seconds:.1f} s",
    reindex_failed="Reindex failed: {error}",
    phase_scanning="scanning",
    phase_building="building index",
    progress="{phase}: {files} files, {records} articles read",
    delete_usage="Usage: /delete <article id>",
    deleted="Deleted article {id}; index updated.",
    no_such_article="No article with id {id}.",
    unnamed_file="this file",
    refused_type="Refused {name}: unsupported file type (expected .txt, .jsonl, .json or .gz of one).",
    refused_size="Refused {name}: {size:,} bytes is over the {limit:,} byte upload limit.",
    refused_over_limit="Refused {name}: over the {limit:,} byte upload limit.",
    loaded="Loaded {name}",
    nothing_ingested="Refused {name}: nothing could be ingested",
    more_skipped="… {count} more skipped",
    stats_title="<b>Statistics</b>",
    stats_articles="articles: {count}",
    stats_passages="passages: {count}",
    stats_sources="sources: {count}",
    stats_index="index: {passages} passages, built {built_at} in {seconds:.2f} s",
    stats_no_index="index: not built",
    stats_segments="segments: {count} ({passages} passages), {deleted:.1%} deleted, last merge {last_merge}",
    stats_questions="questions answered: {last_24h} in the last 24 h, {total} all time",
    stats_latency="median answer latency: {median}",
    stats_reindexing="reindex running: {progress}",
    follow_usage="Write what to follow after the command, e.g. /follow الانتخابات العراقية",
    follow_no_terms="I found no words to follow the news by. Write names, places or a subject, e.g. زلزال تركيا.",
    follow_too_many=f"You follow {MAX_FOLLOWS_PER_CHAT} topics, the most allowed. Stop one with /following first.",
    follow_group_admins_only="In groups, only the group's administrators add and stop follows.",
    follow_none="You follow no topic yet. Write /follow and the topic.",
    follow_title="Your follows",
    follow_stopped="Follow stopped.",
    follow_not_found="I could not find that follow.",
    follow_topic_too_long="The topic is too long: shorten it to at most {limit} characters.",
    follow_added="Following for you: {topic}{where}. I will send its new stories, up to {per_day} alerts a day."
                 " /following lists your follows and stops them.",
    follow_already="You already follow: {topic}{where}. I will send its new stories, up to {per_day} alerts a day."
                   " /following lists your follows and stops them.",
    follow_from=" from {sources}",
    list_separator=", ",
    feeds_usage="Usage: /feeds — list; /feeds add URL [name]; /feeds remove URL; /feeds pause URL; "
                "/feeds resume URL; or send an .opml file to import",
    feeds_none="No feeds followed. Add one with /feeds add URL [name], or send an .opml file.",
    feeds_line="• {name} — {status}, {articles} articles",
    feeds_errors=", {errors} errors (last: {last_error})",
    feeds_more="… and {count} more (newsbot feeds list shows all)",
    feeds_refused="Refused: {reason}",
    feeds_added="Added {url} ({name}); its items are taken on the next poll.",
    feeds_removed="Removed {url} (its articles stay).",
    feeds_paused="Paused {url}.",
    feeds_resumed="Resumed {url}.",
    feeds_not_followed="Not followed: {url}",
    opml_too_big="Refused {name}: over the {limit:,} byte OPML limit.",
    opml_refused="Refused {name}: {reason}",
)


def for_language(language_code: str | None) -> Texts:
    return EN if (language_code or "").lower().startswith("en") else AR


def for_update(update: object) -> Texts:
    """The table for whoever sent `update` (Arabic when unknown)."""
    # Read by attribute: this module is also the terminal's text table, which must not import telegram.
    user = getattr(update, "effective_user", None)
    return for_language(user.language_code if user else None)
