package conntrack

// ctnetlink constants (include/uapi/linux/netfilter/nfnetlink.h,
// nfnetlink_conntrack.h, nf_conntrack_common.h, nf_conntrack_tcp.h). They are
// stable kernel ABI.

const (
	nfnlSubsysCtnetlink = 1
	nfnetlinkV0         = 0

	ipctnlMsgCtNew    = 0
	ipctnlMsgCtGet    = 1
	ipctnlMsgCtDelete = 2

	nfnlgrpConntrackNew     = 1
	nfnlgrpConntrackUpdate  = 2
	nfnlgrpConntrackDestroy = 3

	afINET  = 2
	afINET6 = 10
)

// enum ctattr_type
const (
	ctaTupleOrig     = 1
	ctaTupleReply    = 2
	ctaStatus        = 3
	ctaProtoinfo     = 4
	ctaHelp          = 5
	ctaNatSrc        = 6
	ctaTimeout       = 7
	ctaMark          = 8
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaNatDst        = 13
	ctaTupleMaster   = 14
	ctaZone          = 18
	ctaTimestamp     = 20
	ctaLabels        = 22
	ctaLabelsMask    = 23
	ctaMarkMask      = 21
)

// enum ctattr_tuple, ctattr_ip, ctattr_l4proto
const (
	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum        = 1
	ctaProtoSrcPort    = 2
	ctaProtoDstPort    = 3
	ctaProtoICMPID     = 4
	ctaProtoICMPType   = 5
	ctaProtoICMPCode   = 6
	ctaProtoICMPv6ID   = 7
	ctaProtoICMPv6Type = 8
	ctaProtoICMPv6Code = 9
)

// enum ctattr_protoinfo, ctattr_protoinfo_tcp, ctattr_protoinfo_sctp
const (
	ctaProtoinfoTCP  = 1
	ctaProtoinfoSCTP = 3

	ctaProtoinfoTCPState         = 1
	ctaProtoinfoTCPWscaleOrig    = 2
	ctaProtoinfoTCPWscaleReply   = 3
	ctaProtoinfoTCPFlagsOrig     = 4
	ctaProtoinfoTCPFlagsReply    = 5
	ctaProtoinfoSCTPState        = 1
	ctaProtoinfoSCTPVtagOriginal = 2
	ctaProtoinfoSCTPVtagReply    = 3
)

// enum ctattr_counters, ctattr_tstamp, ctattr_help, ctattr_nat,
// ctattr_protonat, ctattr_stats_global
const (
	ctaCountersPackets = 1
	ctaCountersBytes   = 2

	ctaTimestampStart = 1

	ctaHelpName = 1

	ctaNatV4MinIP = 1
	ctaNatV4MaxIP = 2
	ctaNatProto   = 3
	ctaNatV6MinIP = 4
	ctaNatV6MaxIP = 5

	ctaProtonatPortMin = 1
	ctaProtonatPortMax = 2
)

// enum ip_conntrack_status
const (
	ipsExpected     = 1 << 0
	ipsSeenReply    = 1 << 1
	ipsAssured      = 1 << 2
	ipsConfirmed    = 1 << 3
	ipsFixedTimeout = 1 << 10
	ipsOffload      = 1 << 14
)

// IP_CT_TCP_FLAG_*
const (
	tcpFlagWindowScale  = 0x01
	tcpFlagSackPerm     = 0x02
	tcpFlagCloseInit    = 0x04
	tcpFlagBeLiberal    = 0x08
	tcpFlagDataUnacked  = 0x10
	tcpFlagMaxackSet    = 0x20
	tcpFlagChallengeAck = 0x40
	tcpFlagSimultOpen   = 0x80
)

// IANA protocol numbers.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoGRE     = 47
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

const labelBytes = 16 // 128 label bits

// maxHelperName is NF_CT_HELPER_NAME_LEN without the terminating NUL.
const maxHelperName = 15
