# error_time.gp: relative test error vs wall time of a run, log-log; one curve per method
# through its n grid (median over seeds of the error and of the cells' wall time; bars from
# the min to the max error over seeds). Further left and lower is better.
#   gnuplot -c plots/error_time.gp fig_error_time_X.csv out.png ["title"]
# Input: blocks of "wall_s,median,min,max,n" rows with a header naming the method.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "wall time of one run (s, one core)"
set ylabel "relative test error" noenhanced
set format x "%g"
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
plot for [i=0:nblocks-1] in_csv index i using 1:2:3:4 with yerrorlines \
     lc rgb series_color(i) pt series_point(i) title columnheader(1)
