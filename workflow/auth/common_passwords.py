"""A small list of common passwords and the patterns people build them from, written for
this project (no third-party list is copied).

A password is refused when, lower-cased, it is one of these, or when what is left after
stripping digits and punctuation from both ends is one of the base words: "Password@2024",
"qwerty123!" and "1234Admin" all fall to their base word.
"""

from __future__ import annotations

import re

# Words and keyboard walks that lead the published leak statistics year after year, and the
# pinyin and Chinese-office words that lead them in China.
BASE_WORDS = frozenset(
    """
    password passw0rd p@ssword p@ssw0rd pass passwd pwd secret letmein welcome welcome1
    admin administrator root system sysadmin manager super superuser user guest test tester
    testing demo default changeme change-me temp temporary login access master
    qwerty qwertyuiop qwert asdf asdfgh asdfghjkl zxcvbn zxcvbnm qazwsx qazwsxedc 1qaz2wsx
    1q2w3e4r 1q2w3e4r5t zaq12wsx zaq1xsw2 !qaz2wsx qweasd qweasdzxc asdqwe abc abcd abcde
    abcdef abcdefg abcdefgh abc123 a1b2c3 aaaaaa iloveyou love lover monkey dragon shadow
    sunshine princess football baseball basketball soccer hockey superman batman starwars
    pokemon computer internet trustno1 whatever freedom hello hello123 hellokitty charlie
    michael jordan jennifer thomas daniel andrew robert hunter ranger buster killer
    flower cookie cheese banana orange apple summer winter spring autumn ninja mustang
    matrix lovely family friends forever secret123 mypassword mypass newpassword oracle
    mysql postgres database server network security firewall office company business
    china beijing shanghai jiangsu nanjing zhongguo woaini woaini1314 wanglei zhangwei
    wangwei liwei wangfang caonima nihao nihao123 iloveyou1314 aini1314 yang ying
    huawei xiaomi baidu tencent alibaba taobao weixin wechat qq qqqqqq
    jixiao caizheng zhengfu zhengwu zhengwu123 caiwu caiwu123 shenhe danwei bumen
    gov gov.cn government finance reviewer unit
    """.split()
)

# Whole strings that are common as they are (digits, repeats, walks, dates).
WHOLE = frozenset(
    """
    123456 1234567 12345678 123456789 1234567890 0123456789 987654321 9876543210
    111111 1111111111 000000 0000000000 888888 88888888 666666 66666666 112233 123123
    123321 654321 121212 520520 5201314 1314520 147258369 159357 159753 123qwe qwe123
    123abc abc123456 a123456 a123456789 aa123456 qq123456 woaini520 password1
    password12 password123 password1234 admin123 admin1234 admin888 admin@123
    root123 test123 test1234 abcd1234 abcd@1234 1234abcd qwer1234 qwerty123 qwerty1234
    asdf1234 zxcv1234 1qaz@wsx 1qaz!qaz p@ssw0rd123 passw0rd! welcome123 welcome@123
    changeme123 letmein123 iloveyou123 sunshine1 princess1 dragon123 monkey123
    """.split()
)

_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def is_common(password: str) -> bool:
    lowered = password.strip().lower()
    if lowered in WHOLE or lowered in BASE_WORDS:
        return True
    core = _EDGES.sub("", lowered)
    # Leet spellings count as their letters: "P@ssw0rd" is "password".
    plain = core.translate(str.maketrans({"@": "a", "0": "o", "1": "i", "3": "e", "$": "s"}))
    return bool(core) and (core in BASE_WORDS or plain in BASE_WORDS)
