"""Texts for the synthetic talk-off corpus (written for ctid; hospital call-centre themes, numbers and names)."""

EN_1 = """
Good morning, and thank you for calling the Riverside General Hospital appointment centre. My name is Margaret
Collins, and I will be helping you today. Before we begin, may I have the patient's full name, date of birth and
the eight digit medical record number printed on the blue card? Thank you. I can see that Mr. Daniel Whitaker,
born on the fourteenth of March, nineteen fifty-seven, has a follow-up visit with Doctor Priya Raman in the
cardiology clinic on Thursday at a quarter past ten. The clinic is on the third floor of the east wing, room three
hundred and twelve. Please arrive twenty minutes early, bring a list of every medicine he is taking, and do not
eat anything after midnight if a blood test has been ordered. If you need to change the time, press one now, or
stay on the line and I will find the next free slot. The earliest I can offer is Monday the ninth at two thirty in
the afternoon, or Wednesday the eleventh at eight forty-five in the morning. Parking is free for the first two
hours in car park B, which you reach from Elm Street through the second entrance on the left. Visitors to the
wards are welcome between two and eight in the evening, with no more than two people at each bedside. For the
pharmacy, call extension four four seven one. For the billing office, call zero two zero, seven nine four six,
three three eight one, between nine and five on working days. Our emergency department is open day and night,
but please remember that for a life-threatening emergency you should always dial the emergency number first.
Is there anything else I can help you with today? Then I wish Mr. Whitaker a speedy recovery, and goodbye.
"""

EN_2 = """
Hello, this is the night switchboard at Saint Catherine's Children's Hospital. All of our operators are busy at
the moment, so please listen carefully, because our menu has changed. If you are calling about a child who has a
fever above thirty-nine degrees, trouble breathing, or has swallowed something dangerous, hang up and call the
emergency number straight away. To speak to the nurse advice line, press two. To reach a ward, you may enter the
four digit extension at any time; the neonatal unit is six one zero five, the surgical ward is six two two eight,
and the oncology day unit is six three four zero. Doctor Hannah Okafor and Doctor Luis Fernandez are the
consultants on call tonight. Results of laboratory tests can only be given to parents or legal guardians after
we check the child's name, address and the reference number on the request form, which begins with the letters
S C H followed by seven numbers. We are sorry, but we cannot discuss results with grandparents, neighbours or
friends. The hospital shop on the ground floor sells toys, books, sandwiches and hot drinks until nine o'clock.
The chapel is always open. Our volunteers, Ruth, Samuel, Agnes and Peter, run a quiet reading room next to the
outpatient pharmacy every Saturday from ten until four. If you would like to make a donation to the new
children's cancer centre, please visit the fundraising desk or call eight hundred, five five five, zero one
nine two. Thank you for your patience. Your call is important to us and will be answered in turn. You are
currently number three in the queue, and the expected waiting time is about four minutes.
"""

ZH_1 = """
您好，欢迎致电市第一人民医院预约挂号服务中心。我是客服代表王丽华，工号三七二八。请问您需要预约哪个科室？
好的，心血管内科李建国主任的专家门诊在每周二和周四上午，挂号费五十元。目前周四上午还有三个号，分别是九点二十、
十点十分和十一点四十。请您提供患者的姓名、身份证号码和手机号码。张明远先生，一九六二年八月十五日出生，
手机号码一三九，零一二四，八八六七，对吗？预约已经成功，短信通知稍后发送到您的手机上。请您在就诊当天提前
三十分钟到门诊楼一楼自助机取号，带好医保卡和以前的检查报告。如果需要空腹抽血，请在前一天晚上十点以后不要
进食。医院停车场位于南门，前两个小时免费，之后每小时五元。住院部探视时间为每天下午三点到晚上八点，每位
病人每次最多两位家属。如需办理出院手续，请到住院部二楼结算窗口，工作时间是早上八点到下午五点半。药房咨询
请拨分机四四七一，医保报销咨询请拨分机五二零六。请问还有其他可以帮您的吗？感谢您的来电，祝您早日康复，再见。
"""

ZH_2 = """
这里是省妇幼保健院夜间总机。现在所有话务员都在忙，请您耐心等待，或者根据语音提示进行操作。如果孩子高烧
超过三十九度、呼吸困难或者误服了药物，请立即挂断电话，拨打急救电话。咨询护士请按二，查询检验报告请按三，
转人工服务请按零。各病区分机号码如下：新生儿科六一零五，儿外科六二二八，产科病房六三四零，儿童重症监护室
六四一九。今晚值班的医生是陈晓燕主任和刘志强副主任。检验结果只能告知患儿的父母或者法定监护人，查询时需要
核对孩子的姓名、住址和化验单上的编号，编号以字母开头，后面是七位数字。医院一楼的便利店营业到晚上九点，
出售玩具、图书、面包和热饮。志愿者赵阿姨、孙师傅和周老师每周六上午十点到下午四点在门诊药房旁边的阅览室
为小朋友讲故事。如果您愿意为新建的儿童肿瘤中心捐款，请到一楼筹款服务台，或者拨打四零零，八八八，
零一九二。感谢您的耐心，您的来电对我们非常重要。您前面还有三位来电者，预计等待时间大约四分钟。
"""

TEXTS = {"en1": EN_1, "en2": EN_2, "zh1": ZH_1, "zh2": ZH_2}
