"""Every non-archive installer type: command lines, exit codes, detection, the download cache, the job path.

::

    processes    run one command: timeout, the whole process tree killed, output capped (the one seam)
    exitcodes    exit code -> success / reboot soft / reboot hard / retry later / failure, per type
    windows      msi, exe, msix, winget, choco command lines (pure)
    macos        pkg, dmg, brew command lines (pure)
    linux        deb, apt, rpm, dnf command lines (pure)
    debrelations Debian versions and Depends relations: is a dependency provably met? (pure)
    debstanzas   one deb822 stanza, read as strictly as dpkg writes it (pure)
    debarchive   a .deb's control fields, read from its ar and tar members in-process
    debstatus    what dpkg has installed, read from its status file in-process (the stanzas a proof needs)
    debtool      dpkg -i for a local .deb whose dependencies are proven met, else apt-get (reads the
                 two above; asks dpkg-deb / dpkg-query only for what they refuse)
    inline       inline scripts (pre/post install, detection, the script type) as command lines
    commands     which steps an install or uninstall runs, for any type
    detecting    detection rules in precedence order, with the OS probes behind them
    signatures   the optional publisher signature over the artifact's digest
    caching      resumable downloads into a size-capped cache
    deploying    the job path: detect, download, verify, pre, install, exit codes, post, detect again

Builders are pure functions of the installer and a few facts (paths, the console
user), so the Windows and macOS command lines are tested on any OS against
recorded fixtures; only :mod:`.processes`, the probes in :mod:`.detecting` and the
two read-only readers of :mod:`.debarchive` and :mod:`.debstatus` touch the machine.
"""
