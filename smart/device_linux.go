package smart

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	smartgo "github.com/anatol/smart.go"
	"golang.org/x/sys/unix"
)

// reader reads one disk, counting the commands it sends.
type reader struct {
	opts     options
	disk     Disk
	rep      *Report
	requests int
}

// readDisk reads one disk's health. The error is non-nil only when no
// health data at all could be read; partial failures are warnings in the
// report. Every error names the device and the probe.
func (s *Scanner) readDisk(ctx context.Context, d Disk) (*Report, int, error) {
	r := &reader{opts: s.opts, disk: d, rep: &Report{
		Device: d.Path, Origin: d.Path, Source: SourceDevice, Transport: d.Transport,
		Model: d.Model, Vendor: d.Vendor, Serial: d.Serial, Firmware: d.Firmware,
		CapacityBytes: d.CapacityBytes, Time: s.now(),
	}}
	if d.Rotational != nil && !*d.Rotational {
		zero := 0
		r.rep.RotationRPM = &zero
	}
	if err := ctx.Err(); err != nil {
		return r.rep, 0, &ProbeError{Device: d.Path, Probe: "open", Err: err}
	}
	var err error
	switch d.Protocol {
	case ProtocolATA:
		err = r.readATA()
	case ProtocolNVMe:
		err = r.readNVMe()
	case ProtocolSCSI:
		err = r.readSCSI(ctx)
	default:
		err = &ProbeError{Device: d.Path, Probe: "open", Err: fmt.Errorf("%w: %s", ErrUnsupported, d.Skip)}
	}
	r.rep.Finish()
	return r.rep, r.requests, err
}

func (r *reader) probeErr(probe string, err error) error {
	return &ProbeError{Device: r.disk.Path, Probe: probe, Err: wrapErrno(err)}
}

func (r *reader) warn(probe string, err error) {
	r.rep.Warnings = append(r.rep.Warnings, r.probeErr(probe, err).Error())
	r.opts.logger.Debug().Str("device", r.disk.Path).Str("probe", probe).Err(err).Msg("probe failed")
}

func openDevice(path string) (int, error) {
	// O_NONBLOCK: opening a SCSI disk without media must not wait for it.
	return unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}

// readATA reads a SATA disk through SAT: power mode first (CHECK POWER
// MODE never spins a drive up), then IDENTIFY, SMART data, thresholds,
// SMART RETURN STATUS, the error and self-test logs.
func (r *reader) readATA() error {
	fd, err := openDevice(r.disk.Path)
	if err != nil {
		return r.probeErr("open", err)
	}
	defer unix.Close(fd)

	r.requests++
	mode, err := checkPowerMode(fd)
	switch {
	case err != nil:
		r.warn("CHECK POWER MODE", err)
	default:
		r.rep.PowerMode = mode
		if (mode == "standby") && !r.opts.wakeStandby {
			r.rep.Skipped = "in standby: not woken (read anyway with --wake-standby)"
			return nil
		}
	}

	r.requests += 2 // smart.go's INQUIRY and IDENTIFY DEVICE
	dev, err := smartgo.OpenSata(r.disk.Path)
	if err != nil {
		return r.probeErr("IDENTIFY DEVICE", err)
	}
	defer dev.Close()
	r.requests++
	id, err := dev.Identify()
	if err != nil {
		return r.probeErr("IDENTIFY DEVICE", err)
	}
	r.rep.Protocol = ProtocolATA
	r.rep.Model, r.rep.Serial, r.rep.Firmware = id.ModelNumber(), id.SerialNumber(), id.FirmwareRevision()
	if wwn := id.WWN(); wwn != 0 {
		r.rep.WWN = fmt.Sprintf("%x %06x %09x", wwn>>60, (wwn>>36)&0xffffff, wwn&0xfffffffff)
	}
	if _, capacity, _, _, _ := id.Capacity(); capacity > 0 {
		r.rep.CapacityBytes = int64(capacity)
	}
	rpm := int(id.RotationRate)
	switch {
	case rpm == 1:
		rpm = 0 // "non-rotating media" (ACS-3 Table 45)
		r.rep.RotationRPM = &rpm
	case rpm >= 0x401 && rpm <= 0xfffe:
		r.rep.RotationRPM = &rpm
	}
	// IDENTIFY word 82 bit 0: SMART feature set supported; word 85 bit 0: enabled.
	avail, enabled := id.CommandsSupported1&1 != 0, id.CommandsEnabled1&1 != 0
	r.rep.SMARTAvailable, r.rep.SMARTEnabled = &avail, &enabled
	if !avail || !enabled {
		r.rep.Protocol = ""
		return r.probeErr("IDENTIFY DEVICE", fmt.Errorf("%w: SMART %s", ErrUnsupported, map[bool]string{false: "not supported", true: "disabled"}[avail]))
	}

	r.requests++
	data, err := dev.ReadSMARTData()
	if err != nil {
		return r.probeErr("SMART READ DATA", err)
	}
	page, names := rawPage(data)
	r.requests++
	var th *smartgo.AtaSmartThresholdsPageRaw
	if t, err := dev.ReadSMARTThresholds(); err == nil {
		th = rawThresholds(t)
	} else {
		// smart.go v0.0.0-20260723175002 refuses a thresholds page whose
		// checksum is wrong, which many drives' is; smartctl only warns.
		// Read it ourselves and keep it.
		r.requests++
		buf, err2 := ataPIORead(fd, smartReadThresholdsFeature, 1)
		if err2 != nil {
			r.warn("SMART READ THRESHOLDS", err2)
		} else {
			if !ataChecksumOK(buf) {
				r.rep.Warnings = append(r.rep.Warnings, r.disk.Path+": SMART READ THRESHOLDS: bad checksum (kept, as smartctl does)")
			}
			th = new(smartgo.AtaSmartThresholdsPageRaw)
			_ = binary.Read(bytes.NewReader(buf), binary.LittleEndian, th)
		}
	}
	r.rep.ATA = ataHealth(page, th, r.rep.Model, names)

	r.requests++
	if passed, err := smartStatus(fd); err != nil {
		r.warn("SMART RETURN STATUS", err)
	} else {
		r.rep.OverallPassed = &passed
	}

	r.requests++
	if el, err := dev.ReadSMARTErrorLogSummary(); err != nil {
		r.warn("SMART error log", err)
	} else if n, err := ParseATAErrorLogCount(structBytes(el)); err == nil {
		r.rep.ErrorLogCount = &n
	}
	r.requests++
	if sl, err := dev.ReadSMARTSelfTestLog(); err != nil {
		r.warn("SMART self-test log", err)
	} else if tests, err := ParseATASelfTestLog(structBytes(sl)); err != nil {
		r.warn("SMART self-test log", err)
	} else {
		r.rep.SelfTests = tests
	}
	return nil
}

// rawPage turns smart.go's decoded page back into the on-wire entries our
// decoder reads (one decoder for live drives and recorded pages), keeping
// smart.go's drivedb names.
func rawPage(p *smartgo.AtaSmartPage) (*smartgo.AtaSmartPageRaw, map[uint8]string) {
	raw := &smartgo.AtaSmartPageRaw{Version: p.Version}
	names := map[uint8]string{}
	i := 0
	for id := 1; id <= 255 && i < len(raw.Attrs); id++ {
		a, ok := p.Attrs[uint8(id)]
		if !ok {
			continue
		}
		raw.Attrs[i] = smartgo.AtaSmartAttrRaw{Id: a.Id, Flags: a.Flags, Current: a.Current, Worst: a.Worst, VendorBytes: a.VendorBytes}
		if a.Name != "" {
			names[a.Id] = a.Name
		}
		i++
	}
	return raw, names
}

func rawThresholds(t *smartgo.AtaSmartThresholdsPage) *smartgo.AtaSmartThresholdsPageRaw {
	raw := &smartgo.AtaSmartThresholdsPageRaw{Revnumber: t.Revnumber}
	i := 0
	for id := 1; id <= 255 && i < len(raw.ThresholdEntries); id++ {
		if v, ok := t.Thresholds[uint8(id)]; ok {
			raw.ThresholdEntries[i].Id, raw.ThresholdEntries[i].Threshold = uint8(id), v
			i++
		}
	}
	return raw
}

// structBytes re-encodes one of smart.go's on-wire structs.
func structBytes(v any) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

const smartReadThresholdsFeature = 0xd1

// ataPIORead issues a one-sector SMART PIO data-in command (SAT-4 ATA
// PASS-THROUGH (16), protocol 4).
func ataPIORead(fd int, feature, lbaLow uint8) ([]byte, error) {
	buf := make([]byte, ataPageSize)
	cdb := make([]byte, 16)
	cdb[0] = sat16
	cdb[1] = 4 << 1 // PROTOCOL 4: PIO data-in
	cdb[2] = 0x0e   // T_DIR from device, BYT_BLOK, T_LENGTH in COUNT
	cdb[4] = feature
	cdb[6] = 1
	cdb[8] = lbaLow
	cdb[10], cdb[12] = 0x4f, 0xc2
	cdb[14] = ataSMART
	res, err := sgCommand(fd, cdb, buf, ataCommandTimeout)
	if err != nil {
		return nil, err
	}
	if res.status == scsiCheckStatus {
		key, asc, ascq, _ := senseKey(res.sense)
		return nil, fmt.Errorf("%w: sense key %Xh, asc %02Xh ascq %02Xh", ErrDevice, key, asc, ascq)
	}
	return buf, nil
}

// readNVMe reads an NVMe controller: Identify Controller (and namespaces)
// and the SMART / Health Information log.
func (r *reader) readNVMe() error {
	r.requests++
	dev, err := smartgo.OpenNVMe(r.disk.Path)
	if err != nil {
		return r.probeErr("open", err)
	}
	defer dev.Close()
	r.requests += 2
	ctrl, nss, err := dev.Identify()
	if err != nil {
		return r.probeErr("NVMe Identify", err)
	}
	r.rep.Protocol = ProtocolNVMe
	r.rep.Model, r.rep.Serial, r.rep.Firmware = ctrl.ModelNumber(), ctrl.SerialNumber(), ctrl.FirmwareRev()
	var capacity uint64
	for _, ns := range nss {
		capacity += ns.Nsze * ns.LbaSize()
	}
	if capacity > 0 {
		r.rep.CapacityBytes = int64(capacity)
	}
	r.requests++
	log, err := dev.ReadSMART()
	if err != nil {
		return r.probeErr("NVMe SMART/Health log", err)
	}
	h, err := ParseNVMeHealthLog(structBytes(log))
	if err != nil {
		return r.probeErr("NVMe SMART/Health log", err)
	}
	r.rep.NVMe = h
	return nil
}

// readSCSI reads a SAS/SCSI disk's log pages: those the device lists as
// supported (page 00h), then the grown defect list length.
func (r *reader) readSCSI(ctx context.Context) error {
	r.requests++
	dev, err := smartgo.OpenScsi(r.disk.Path)
	if err != nil {
		return r.probeErr("INQUIRY", err)
	}
	defer dev.Close()
	if r.rep.Serial == "" {
		r.requests++
		if sn, err := dev.SerialNumber(); err == nil {
			r.rep.Serial = trimSpace(sn)
		}
	}
	fd, err := openDevice(r.disk.Path)
	if err != nil {
		return r.probeErr("open", err)
	}
	defer unix.Close(fd)
	r.requests++
	sup, err := logSense(fd, LogPageSupported, 0)
	if err != nil {
		return r.probeErr("LOG SENSE 00h", err)
	}
	pages, err := ParseSupportedLogPages(sup)
	if err != nil {
		return r.probeErr("LOG SENSE 00h", err)
	}
	r.rep.Protocol = ProtocolSCSI
	s := &SCSIHealth{}
	r.rep.SCSI = s
	for _, p := range pages {
		if ctx.Err() != nil {
			return r.probeErr(fmt.Sprintf("LOG SENSE %02Xh", p), ctx.Err())
		}
		if !scsiPageWanted(p) {
			continue
		}
		r.requests++
		b, err := logSense(fd, p, 0)
		if err != nil {
			r.warn(fmt.Sprintf("LOG SENSE %02Xh", p), err)
			continue
		}
		if err := decodeSCSIPage(r.rep, p, b); err != nil {
			r.warn(fmt.Sprintf("LOG SENSE %02Xh", p), err)
		}
		if p == LogPageTemperature {
			// The environmental reporting subpage, where there is one,
			// is what smartctl shows as the temperature; a device
			// without it refuses the subpage (not a warning).
			r.requests++
			if env, err := logSense(fd, p, 0x01); err == nil {
				if t, err := ParseEnvironmentalReportingPage(env); err == nil && t != nil {
					s.Temperature = t
				}
			}
		}
	}
	r.requests++
	if n, err := grownDefects(fd); err != nil {
		r.warn("READ DEFECT DATA", err)
	} else {
		s.GrownDefects = &n
	}
	return nil
}

func scsiPageWanted(p uint8) bool {
	switch p {
	case LogPageWriteErrors, LogPageReadErrors, LogPageVerifyErrors, LogPageNonMediumErrors,
		LogPageTemperature, LogPageStartStop, LogPageSelfTest, LogPageSolidStateMedia, LogPageInfoExceptions:
		return true
	}
	return false
}
