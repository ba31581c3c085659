package smart

import "strings"

// decodeSCSIPage decodes one log page into the report.
func decodeSCSIPage(r *Report, page uint8, b []byte) error {
	s := r.SCSI
	switch page {
	case LogPageWriteErrors, LogPageReadErrors, LogPageVerifyErrors:
		c, err := ParseErrorCounterPage(b, page)
		if err != nil {
			return err
		}
		switch page {
		case LogPageWriteErrors:
			s.Write = c
		case LogPageReadErrors:
			s.Read = c
		default:
			s.Verify = c
		}
	case LogPageNonMediumErrors:
		n, err := ParseNonMediumErrorPage(b)
		if err != nil {
			return err
		}
		s.NonMediumErrors = &n
	case LogPageTemperature:
		cur, trip, err := ParseTemperaturePage(b)
		if err != nil {
			return err
		}
		s.Temperature, s.TripTemperature = cur, trip
	case LogPageStartStop:
		c, err := ParseStartStopPage(b)
		if err != nil {
			return err
		}
		s.StartStopCycles, s.SpecifiedStartStopCycles = c.StartStop, c.SpecifiedStartStop
		s.LoadUnloadCycles, s.SpecifiedLoadUnloadCycles = c.LoadUnload, c.SpecifiedLoadUnload
	case LogPageSelfTest:
		tests, err := ParseSelfTestPage(b)
		if err != nil {
			return err
		}
		r.SelfTests = tests
	case LogPageSolidStateMedia:
		pu, err := ParseSolidStateMediaPage(b)
		if err != nil {
			return err
		}
		s.PercentageUsed = pu
	case LogPageInfoExceptions:
		ie, err := ParseInfoExceptionsPage(b)
		if err != nil {
			return err
		}
		s.SetInformationalException(ie.ASC, ie.ASCQ)
		if s.Temperature == nil {
			s.Temperature = ie.Temperature
		}
	}
	return nil
}

func trimSpace(s string) string { return strings.TrimSpace(strings.Trim(s, "\x00")) }
